"""Benchmark: requests per second and latency under load, against a bare Litestar handler.

Loads the demo network (scale 1) into a temporary data directory, or into the PostgreSQL
database given with --database-url (replaced with `demo --reset`), then for each number of
workers serves Testbed with `testbed serve --workers N` and the constant handler of
bench/bare_app.py with uvicorn and the same N workers, each on a free port of 127.0.0.1, and
drives every page with wrk for a fixed time (bounded: it stops by itself). The findings page
is a finding the script makes by running a pilot's analysis as the demo network admin, and it
is requested with the admin's session cookie. The load generator
runs on the same machine and shares its CPUs, as the bare handler's figures do too. Every wrk
run follows `--warmup` seconds of the same load, unmeasured (each worker's first views fill its
caches: a finding's charts are drawn once per worker).

Then the target's own question, with bench/paced_load.py: the bare handler and the findings
page offered `--rate` requests a second (open loop) for `--seconds`; achieved rate, p50 and p99
counted from when each request was due.

Run: .venv/bin/python bench/bench_load.py [--database-url postgresql://...] [--workers 1 4]
     [--seconds 10] [--connections 32] [--warmup 2] [--rate 200]   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from paced_load import PacedResult, paced

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the load never leaves this machine
PAGES = (
    ("home page", "/"),
    ("list page", "/pilots"),
    ("list API", "/api/v1/products"),
)
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def _serving(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


def _wrk(url: str, seconds: int, connections: int, cookie: str | None = None) -> Result:
    wrk = shutil.which("wrk")
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    output = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+(?:us|ms|s))", output, re.M))
    if set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"wrk's output has no latency distribution:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: .*", output)
    if socket_errors:
        print("   ", socket_errors.group(0), file=sys.stderr)
    return Result(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_milliseconds(percentiles["50"]),
        p99_ms=_milliseconds(percentiles["99"]),
        errors=int(errors.group(1)) if errors else 0,
    )


def _finding_as_admin(base: str) -> tuple[str, str]:
    """Sign in as the demo network admin and run the analysis of a pilot in analysis (an
    unpublished finding, the costliest page to read); return its path and the session cookie."""
    sys.path.insert(0, str(ROOT))
    from testbed.demo.generate import DEMO_PASSWORD, NETWORK_ADMIN_EMAIL

    with httpx.Client(base_url=base, timeout=60) as browser:
        browser.get("/login")
        signed_in = browser.post(
            "/login",
            data={
                "email": NETWORK_ADMIN_EMAIL,
                "password": DEMO_PASSWORD,
                "_csrf_token": browser.cookies["csrftoken"],
            },
        )
        if signed_in.status_code not in (302, 303):
            raise RuntimeError(f"signing in answered {signed_in.status_code}")
        pilots = browser.get("/api/v1/pilots", params={"status": "analysis"}).json()["items"]
        ran = browser.post(
            f"/pilots/{pilots[0]['id']}/findings/run",
            data={"_csrf_token": browser.cookies["csrftoken"]},
        )
        if ran.status_code not in (302, 303):
            raise RuntimeError(f"running the analysis answered {ran.status_code}")
        return ran.headers["location"], f"testbed_session={browser.cookies['testbed_session']}"


def _environment(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TESTBED_DEBUG"}}
    env["TESTBED_DATA_DIR"] = tempfile.mkdtemp(prefix="testbed-load-")
    env["PICCOLO_CONF"] = "testbed.piccolo_conf"
    env["PYTHONPATH"] = str(ROOT)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL database to use (replaced)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--rate", type=float, default=200, help="requests/s of the paced runs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    env = _environment(args.database_url)
    python = sys.executable
    loaded = subprocess.run(
        [python, "-m", "testbed.cli", "demo", "--reset"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    print(loaded.stdout.split(":")[0])
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{backend}; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"wrk -t2 -c{args.connections} -d{args.seconds}s, load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    )
    print("| workers | page | requests/s | p50 ms | p99 ms | errors | × bare req/s | × bare p99 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    paced_results: list[tuple[int, str, str, PacedResult]] = []
    for workers in args.workers:
        port = _free_port()
        bare_command = [
            python,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ]
        with _serving(bare_command, env, port) as base:
            _wrk(base + "/", args.warmup, args.connections)
            bare = _wrk(base + "/", args.seconds, args.connections)
            paced_results.append(
                (workers, "bare handler", "/", paced(base + "/", args.rate, args.seconds))
            )
        print(
            f"| {workers} | bare handler | {bare.requests_per_second:,.0f} | {bare.p50_ms:.1f} "
            f"| {bare.p99_ms:.1f} | {bare.errors} | 1 | 1 |",
            flush=True,
        )
        port = _free_port()
        testbed_command = [
            python,
            "-m",
            "testbed.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        with _serving(testbed_command, env, port) as base:
            finding, cookie = _finding_as_admin(base)
            pages = [(label, path, None) for label, path in PAGES]
            for label, path, session in [*pages, ("findings page (admin)", finding, cookie)]:
                _wrk(base + path, args.warmup, args.connections, session)
                result = _wrk(base + path, args.seconds, args.connections, session)
                print(
                    f"| {workers} | {label} `{path}` | {result.requests_per_second:,.0f} "
                    f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.errors} "
                    f"| {result.requests_per_second / bare.requests_per_second:.3f} "
                    f"| {result.p99_ms / bare.p99_ms:.0f} |",
                    flush=True,
                )
            headers = {"Cookie": cookie}
            result = paced(base + finding, args.rate, args.seconds, headers)
            paced_results.append((workers, "findings page (admin)", finding, result))
    _print_paced(args.rate, paced_results)


def _print_paced(rate: float, results: list[tuple[int, str, str, PacedResult]]) -> None:
    print(f"\nPaced (open loop) at {rate:,.0f} requests/s, latency from when each was due:")
    print("| workers | page | offered/s | achieved/s | p50 ms | p99 ms | errors | × bare p99 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    bare_p99 = {}
    for workers, label, path, result in results:
        if result.errors:
            print("   ", label, workers, "workers:", result.error_kinds, file=sys.stderr)
        if label == "bare handler":
            bare_p99[workers] = result.p99_ms
        print(
            f"| {workers} | {label} `{path}` | {result.offered_per_second:,.0f} "
            f"| {result.achieved_per_second:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
            f"| {result.errors} | {result.p99_ms / bare_p99[workers]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
