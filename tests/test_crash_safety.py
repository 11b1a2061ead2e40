"""SIGKILL in the middle of a large bulk load leaves the database as it was before the load.

`testbed demo --scale 10 --reset` replaces a loaded network (scale 1) with one ten times larger,
deleting the old rows and writing the new ones in one transaction. The test kills it while the
rows are being written (seen from outside: SQLite's write-ahead log growing, or PostgreSQL's COPY
running), then checks that the database is intact and holds exactly the old network, and that
the service starts on it. It runs on the suite's backend: a temporary data directory for SQLite,
a throwaway database on the DATABASE_URL server for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from testbed.settings import ROOT
from testbed.tables import TABLES

TESTBED = [sys.executable, "-m", "testbed.cli"]
# Killed once this much of the new network is in SQLite's write-ahead log: well into the
# transaction (the scale-10 load writes about 25 MB), far from its commit.
WAL_BYTES_MID_LOAD = 6_000_000
# On PostgreSQL, the COPY of the observations (most of the rows) has run this long.
SECONDS_INTO_COPY = 0.5
LOAD_TIMEOUT_SECONDS = 60


@dataclass
class Backend:
    env: dict[str, str]
    count_rows: Callable[[], dict[str, int]]
    loading: Callable[[], bool]
    check_integrity: Callable[[], None]


def _sqlite_backend(data_dir: Path, env: dict[str, str]) -> Backend:
    database = data_dir / "testbed.sqlite"
    wal = data_dir / "testbed.sqlite-wal"

    def count_rows() -> dict[str, int]:
        with sqlite3.connect(database) as connection:
            return {
                table._meta.tablename: connection.execute(
                    f'SELECT count(*) FROM "{table._meta.tablename}"'
                ).fetchone()[0]
                for table in TABLES
            }

    def loading() -> bool:
        return wal.exists() and wal.stat().st_size > WAL_BYTES_MID_LOAD

    def check_integrity() -> None:
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    return Backend(env, count_rows, loading, check_integrity)


def _psql(url: str, sql: str) -> str:
    result = subprocess.run(
        [
            shutil.which("psql") or "psql",
            "--no-psqlrc",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _postgres_backend(url: str, env: dict[str, str]) -> Backend:
    database = urlsplit(url).path.lstrip("/")
    copy_seen_at: list[float] = []

    def count_rows() -> dict[str, int]:
        counts = " UNION ALL ".join(
            f"SELECT '{table._meta.tablename}', count(*) FROM \"{table._meta.tablename}\""
            for table in TABLES
        )
        lines = _psql(url, counts).splitlines()
        return {name: int(count) for name, count in (line.split("|") for line in lines)}

    def loading() -> bool:
        copying = _psql(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query ILIKE 'COPY%observation%'",
        )
        if copying != "0" and not copy_seen_at:
            copy_seen_at.append(time.monotonic())
        return bool(copy_seen_at) and time.monotonic() - copy_seen_at[0] > SECONDS_INTO_COPY

    def check_integrity() -> None:
        # A killed client's transaction is rolled back by the server; nothing may hold it open.
        waiting = _psql(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'",
        )
        assert waiting == "0"
        assert database

    return Backend(env, count_rows, loading, check_integrity)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TESTBED_DATA_DIR"] = str(tmp_path)
    suite_url = os.environ.get("DATABASE_URL")
    if not suite_url:
        yield _sqlite_backend(tmp_path, env)
        return
    name = f"testbed_crash_{uuid.uuid4().hex[:12]}"
    _psql(suite_url, f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(suite_url)._replace(path=f"/{name}"))
    try:
        yield _postgres_backend(url, {**env, "DATABASE_URL": url})
    finally:
        _psql(suite_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_health(port: int, server: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("the server did not start after the crash")
            time.sleep(0.2)


def test_sigkill_during_a_large_load_leaves_the_old_network_whole(backend: Backend):
    first = subprocess.run(
        [*TESTBED, "demo"], cwd=ROOT, env=backend.env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    old_network = backend.count_rows()
    assert old_network["organization"] > 150 and old_network["observation"] > 0

    load = subprocess.Popen(
        [*TESTBED, "demo", "--scale", "10", "--reset"],
        cwd=ROOT,
        env=backend.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        while not backend.loading():
            assert load.poll() is None, f"the load ended before it was killed: {load.stderr.read()}"
            assert time.monotonic() < deadline, "the load never reached its writes"
            time.sleep(0.05)
        load.send_signal(signal.SIGKILL)
        assert load.wait(timeout=10) == -signal.SIGKILL
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()

    backend.check_integrity()
    assert backend.count_rows() == old_network

    port = _free_port()
    server = subprocess.Popen(
        [*TESTBED, "serve", "--port", str(port)],
        cwd=ROOT,
        env=backend.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = _wait_for_health(port, server)
        assert health.json() == {"status": "ok", "database": "ok"}
        numbers = httpx.get(f"http://127.0.0.1:{port}/api/v1/network/numbers", timeout=10).json()
        assert numbers["districts"] == 150
    finally:
        server.terminate()
        server.wait(timeout=10)
