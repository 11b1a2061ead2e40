"""Browser tests: headless Debian Chromium driven by pytest-playwright against a real server.

Without Chromium or the playwright packages the folder is skipped with the reason, unless the
environment variable CI is set: CI must run the browser test, so there a missing browser fails.
TESTBED_CHROMIUM points at another Chromium binary (default /usr/bin/chromium); setting it to a
path that does not exist is how to try the skip and the CI failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("TESTBED_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing_browser() -> str | None:
    """What keeps the browser tests from running here, or None."""
    if importlib.util.find_spec("pytest_playwright") is None:
        return "the playwright and pytest-playwright packages are not installed (make install)"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


MISSING_BROWSER = _missing_browser()


class SkippedModule(pytest.Module):
    """A test file that is not imported (it needs playwright) and is reported as skipped."""

    def collect(self):
        pytest.skip(f"browser tests need Chromium: {MISSING_BROWSER}")


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    if MISSING_BROWSER and not os.environ.get("CI"):
        return SkippedModule.from_parent(parent, path=module_path)
    return None


@pytest.fixture(scope="session", autouse=True)
def browser_present() -> None:
    """On CI a missing browser is a failure, not a skip."""
    if MISSING_BROWSER:
        pytest.fail(
            f"CI is set, so the browser test must run, but {MISSING_BROWSER}", pytrace=False
        )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # Debian's Chromium: Playwright's own browser downloads are not used (PITFALLS.md).
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    # Always SQLite in a fresh data directory: the server must not share the suite's database
    # (tests/conftest.py empties it between tests), and the journey is the same on PostgreSQL.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "PICCOLO_CONF", "TESTBED_DATA_DIR", "TESTBED_DEBUG"}
    }
    return {**inherited, "TESTBED_DATA_DIR": str(data_dir)}


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """A real server on a free port, with the demo network loaded."""
    data_dir = Path(tempfile.mkdtemp(prefix="testbed-browser-"))
    env = _server_env(data_dir)
    testbed = [sys.executable, "-m", "testbed.cli"]
    demo = subprocess.run(
        [*testbed, "demo"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert demo.returncode == 0, demo.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env["TESTBED_BASE_URL"] = url  # links in mail (the outbox) lead to this server
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [*testbed, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"the server did not start; see {data_dir / 'server.log'}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
