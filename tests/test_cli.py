"""The `testbed` command on a brand-new data directory, as a person would run it."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

TESTBED = [sys.executable, "-m", "testbed.cli"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PICCOLO_CONF"}}
    return {**env, "TESTBED_DATA_DIR": str(data_dir), **extra}


def _run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        TESTBED + args, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_migrate_on_a_new_data_directory_then_again(tmp_path):
    first = _run(["migrate"], _env(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "Applied 1 migration(s)" in first.stdout or "Applied" in first.stdout
    assert (tmp_path / "testbed.sqlite").exists()
    again = _run(["migrate"], _env(tmp_path))
    assert again.stdout.strip() == "Database schema is up to date."


def test_createadmin_refuses_a_weak_password_and_creates_with_a_good_one(tmp_path):
    weak = _run(
        ["createadmin", "--email", "ops@network.example", "--name", "Ops"],
        _env(tmp_path, TESTBED_ADMIN_PASSWORD="password123"),
    )
    assert weak.returncode == 2
    assert "Use at least 12 characters" in weak.stderr
    good = _run(
        ["createadmin", "--email", "ops@network.example", "--name", "Ops"],
        _env(tmp_path, TESTBED_ADMIN_PASSWORD="quarry-lilac-signal-88"),
    )
    assert good.returncode == 0, good.stderr
    assert "Created network administrator ops@network.example" in good.stdout


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[int]:
    """`testbed serve` on a free port until the block ends; yields the port."""
    port = _free_port()
    server = subprocess.Popen(
        TESTBED + ["serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("server did not start")
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_believes_no_forwarded_for_unless_a_proxy_is_configured(tmp_path):
    """Served as `testbed serve` runs in production, a local client that forges
    X-Forwarded-For on every attempt still reaches the per-address sign-in limit, and the
    audit log records its real address (uvicorn's proxy_headers used to believe any client on
    127.0.0.1)."""
    with (
        _serving(_env(tmp_path)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser,
    ):
        browser.get("/login")
        codes = []
        for number in range(21):
            response = browser.post(
                "/login",
                data={
                    "email": f"guess{number}@x.example",
                    "password": "wrong-wrong-wrong",
                    "_csrf_token": browser.cookies["csrftoken"],
                },
                headers={"X-Forwarded-For": f"203.0.113.{number}"},
            )
            codes.append(response.status_code)
    assert codes == [400] * 20 + [429]
    with sqlite3.connect(tmp_path / "testbed.sqlite") as database:
        addresses = database.execute(
            "SELECT DISTINCT ip_address FROM audit_event WHERE action = 'login_failed'"
        ).fetchall()
    assert addresses == [("127.0.0.1",)]


def test_serve_on_a_new_data_directory_shows_the_demo_network(tmp_path):
    env = _env(tmp_path)
    demo = _run(["demo"], env)
    assert demo.returncode == 0, demo.stderr
    with _serving(env) as port:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
        assert health.json() == {"status": "ok", "database": "ok"}
        numbers = httpx.get(f"http://127.0.0.1:{port}/api/v1/network/numbers").json()
        assert numbers["districts"] == 150
        assert numbers["states"] >= 34
        assert numbers["products"] == 45
        home = httpx.get(f"http://127.0.0.1:{port}/")
        assert "The network today" in home.text


def test_draw_plots_draws_the_demo_findings_once(tmp_path):
    env = _env(tmp_path)
    assert _run(["demo"], env).returncode == 0
    first = _run(["draw-plots"], env)
    assert first.returncode == 0, first.stderr
    drawn = int(first.stdout.split("Drew the plots of ")[1].split()[0])
    assert drawn >= 6  # the demo's published findings (and their products' evidence with them)
    again = _run(["draw-plots"], env)
    assert "Drew the plots of 0 finding(s)" in again.stdout
    with sqlite3.connect(tmp_path / "testbed.sqlite") as database:
        stored = database.execute("SELECT COUNT(*) FROM drawing WHERE svg LIKE '<svg%'").fetchone()
    assert stored[0] > drawn  # several plots a finding


def test_cron_commands_notify_work_once_and_send_digests(tmp_path):
    env = _env(tmp_path, TESTBED_SECRET_KEY="cli-test-secret")
    assert _run(["demo"], env, check=False).returncode == 0
    first = _run(["notify-work"], env)
    assert first.returncode == 0, first.stderr
    told = int(first.stdout.split()[0])
    assert told > 0  # the demo's open designs, data due, findings to decide, overdue pilots
    again = _run(["notify-work"], env)
    assert again.stdout.strip() == "0 new notification(s)"
    digests = _run(["send-digests"], env)
    assert digests.returncode == 0, digests.stderr
    assert digests.stdout.strip() == "0 digest(s) queued"  # everyone's default is immediate
    with sqlite3.connect(tmp_path / "testbed.sqlite") as db:
        [(queued,)] = db.execute("SELECT COUNT(*) FROM outbox_message WHERE kind = 'notification'")
        [(unsubscribe,)] = db.execute(
            "SELECT COUNT(*) FROM outbox_message WHERE list_unsubscribe LIKE '%/unsubscribe/%'"
        )
    assert queued == unsubscribe == told
