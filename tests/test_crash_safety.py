"""SIGKILL in the middle of a write leaves the database as it was before the write.

- `testbed demo --scale 10 --reset` replaces a loaded network (scale 1) with one ten times
  larger, deleting the old rows and writing the new ones in one transaction. The test kills it
  while the rows are being written (seen from outside: SQLite's write-ahead log growing, or
  PostgreSQL's COPY running), then checks that the database is intact and holds exactly the old
  network, and that the service starts on it.
- `testbed serve` is killed while it imports a large upload (200,000 rows, in the background):
  the site keeps its previous upload as current, no row of the killed one is visible, and the
  restarted service serves the data and says the upload stopped.
- A registration of a design is killed inside its transaction (a child process pauses there:
  tests/crash_actions.py): the design is not registered at all, and registering again works.

Each runs on the suite's backend: a temporary data directory for SQLite, a throwaway database on
the DATABASE_URL server for PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from piccolo.engine.sqlite import convert_datetime_in

from testbed.designs.canonical import canonical_json
from testbed.settings import ROOT
from testbed.tables import TABLES
from testbed.uploads.leases import LEASE
from tests.crash_actions import INSIDE_REGISTRATION
from tests.web.test_designs import DOCUMENT
from tests.web.test_uploads import student_csv

TESTBED = [sys.executable, "-m", "testbed.cli"]
# Killed once this much of the new network is in SQLite's write-ahead log: well into the
# transaction (the scale-10 load writes about 25 MB), far from its commit.
WAL_BYTES_MID_LOAD = 6_000_000
# On PostgreSQL, the COPY of the observations (most of the rows) has run this long.
SECONDS_INTO_COPY = 0.5
LOAD_TIMEOUT_SECONDS = 60
# The large upload: about 12 MB of CSV (imported in the background, over the 5 MB limit for
# the request), and 200,000 observations for the import to write in one transaction.
LARGE_UPLOAD_ROWS = 200_000
# Killed once this much of the upload's observations has been written: some chunks in, far
# from the commit (the whole import writes roughly 40 MB).
IMPORT_BYTES_WRITTEN = 4_000_000


@dataclass
class Backend:
    env: dict[str, str]
    count_rows: Callable[[], dict[str, int]]
    loading: Callable[[], bool]
    check_integrity: Callable[[], None]
    # Rows of a query, as tuples (SQLite's booleans as 0/1: compare with bool()).
    query: Callable[[str], list[tuple]]
    # Bytes written so far by inserts, committed or not: SQLite's write-ahead log, or the size of
    # PostgreSQL's observation table (which grows as rows are copied in, before any commit).
    bytes_written: Callable[[], int]
    # SQL for a timestamp `ago` before now.
    timestamp: Callable[[timedelta], str]


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
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []

    def query(sql: str) -> list[tuple]:
        with sqlite3.connect(database) as connection:
            rows = connection.execute(sql).fetchall()
        connection.close()
        return rows

    def bytes_written() -> int:
        return wal.stat().st_size if wal.exists() else 0

    def timestamp(ago: timedelta) -> str:
        return "'" + convert_datetime_in(datetime.now(UTC) - ago) + "'"

    return Backend(env, count_rows, loading, check_integrity, query, bytes_written, timestamp)


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
        # A killed client's transaction is rolled back by the server; nothing may hold it open
        # (the server sees the closed socket at once; allow it a moment to end the backend).
        deadline = time.monotonic() + 5
        while True:
            waiting = _psql(
                url,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' "
                "OR (state = 'active' AND query ILIKE 'COPY%'))",
            )
            if waiting == "0" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert waiting == "0"
        assert database

    def query(sql: str) -> list[tuple]:
        output = _psql(url, sql)
        return [tuple(_pg_value(v) for v in line.split("|")) for line in output.splitlines()]

    def bytes_written() -> int:
        return int(_psql(url, "SELECT pg_relation_size('observation')"))

    def timestamp(ago: timedelta) -> str:
        return f"now() - interval '{int(ago.total_seconds())} seconds'"

    return Backend(env, count_rows, loading, check_integrity, query, bytes_written, timestamp)


def _pg_value(text: str) -> int | str | bool | None:
    """psql's unaligned text back into the values sqlite3 would give (booleans as t/f)."""
    if text == "":
        return None
    if text in ("t", "f"):
        return text == "t"
    return int(text) if text.lstrip("-").isdigit() else text


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


def _start_server(backend: Backend) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [*TESTBED, "serve", "--port", str(port)],
        cwd=ROOT,
        env=backend.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = _wait_for_health(port, server)
    assert health.json() == {"status": "ok", "database": "ok"}
    return server, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _action(backend: Backend, *args: str) -> dict:
    """Run tests/crash_actions.py in a child process on the backend; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_actions", *args],
        cwd=ROOT,
        env=backend.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _site_state(backend: Backend) -> dict:
    return {
        "datasets": [
            (version, bool(current), rows, filename)
            for version, current, rows, filename in backend.query(
                "SELECT version, is_current, row_count, filename FROM dataset ORDER BY version"
            )
        ],
        "observations": backend.query(
            "SELECT d.version, count(*) FROM observation o JOIN dataset d ON d.id = o.dataset "
            "GROUP BY d.version ORDER BY d.version"
        ),
        "orphans": backend.query(
            "SELECT count(*) FROM observation WHERE dataset NOT IN (SELECT id FROM dataset)"
        )[0][0],
        "upload_events": backend.query(
            "SELECT count(*) FROM audit_event WHERE action = 'data_upload'"
        )[0][0],
    }


def test_sigkill_during_a_large_upload_import_stores_none_of_it(backend: Backend):
    """The server is killed (SIGKILL) while it writes the observations of a 200,000-row upload
    into the database. Afterwards the database is intact, the site's earlier upload is still its
    one current version with all its rows, and nothing of the killed upload is visible: no
    Dataset, no observation, no audit event. The killed upload's job still reads "importing",
    with the lease its dead worker can no longer renew; once the lease has passed (set in the
    past here rather than waited for), the restarted service fails the job as it starts, and
    its page says the import was interrupted and nothing was stored. The restarted service
    serves the site's data, and a new upload becomes version 2."""
    seeded = _action(backend, "seed")
    token = {"Authorization": f"Bearer {seeded['district_token']}"}
    pilot, site = seeded["active_pilot"], seeded["district"]
    datasets = f"/api/v1/pilots/{pilot}/sites/{site}/datasets"
    large = student_csv(LARGE_UPLOAD_ROWS, prefix="LARGE-").encode()
    # Uploads are kept under a neutral name, never the one they arrived with.
    stored_name = f"students-site-{site}-{datetime.now(UTC).date().isoformat()}.csv"

    server, base = _start_server(backend)
    try:
        with httpx.Client(base_url=base, headers=token, timeout=30) as api:
            small = api.post(
                f"{datasets}?filename=small.csv",
                content=student_csv(30),
                headers={"Content-Type": "text/csv"},
            )
            assert small.status_code == 201, small.text
            before = _site_state(backend)
            written_before = backend.bytes_written()
            started = api.post(
                f"{datasets}?filename=large.csv",
                content=large,
                headers={"Content-Type": "text/csv"},
            )
            assert started.status_code == 202, started.text
            job = started.json()["id"]
            deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
            while backend.bytes_written() < written_before + IMPORT_BYTES_WRITTEN:
                status = api.get(f"/api/v1/uploads/{job}").json()["status"]
                assert status in ("queued", "validating", "importing"), status
                assert time.monotonic() < deadline, "the import never reached its writes"
                time.sleep(0.02)
        server.send_signal(signal.SIGKILL)
        assert server.wait(timeout=10) == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    backend.check_integrity()
    assert before == {
        "datasets": [(1, True, 30, stored_name)],
        "observations": [(1, 30)],
        "orphans": 0,
        "upload_events": 1,
    }
    assert _site_state(backend) == before
    assert backend.query(f"SELECT status, dataset FROM upload_job WHERE id = {job}") == [
        ("importing", None)
    ]
    lapsed = backend.timestamp(LEASE + timedelta(seconds=1))
    backend.query(f"UPDATE upload_job SET lease_until = {lapsed} WHERE id = {job}")

    server, base = _start_server(backend)
    try:
        with httpx.Client(base_url=base, headers=token, timeout=30) as api:
            listed = api.get(f"/api/v1/pilots/{pilot}/datasets").json()
            assert [(d["version"], d["is_current"], d["row_count"]) for d in listed] == [
                (1, True, 30)
            ]
            page = api.get(f"/pilots/{pilot}/data")
            assert page.status_code == 200
            assert stored_name in page.text and "large.csv" not in page.text
            # The job of the killed upload: failed as the service started, never done.
            after = api.get(f"/api/v1/uploads/{job}").json()
            assert (after["status"], after["dataset_id"]) == ("failed", None)
            # (its progress may have reached the last row: the kill came before the commit)
            assert after["rows_done"] <= LARGE_UPLOAD_ROWS
            assert after["message"].startswith("The import was interrupted")
            job_page = api.get(f"/uploads/{job}").text
            assert "upload the file again" in job_page
            assert "Nothing from it was stored" in job_page
            again = api.post(
                f"{datasets}?filename=again.csv",
                content=student_csv(12, prefix="A"),
                headers={"Content-Type": "text/csv"},
            )
            assert again.status_code == 201, again.text
    finally:
        _stop(server)
    assert _site_state(backend)["datasets"] == [
        (1, False, 30, stored_name),
        (2, True, 12, stored_name),
    ]


def test_sigkill_during_registration_leaves_the_design_unregistered(backend: Backend):
    """A registration (of a freshly written draft, by the service function in a child process)
    is killed (SIGKILL) inside its transaction, after the version row got its time and hash and
    before the audit event. While it hangs there, nothing of it is visible to others; after the
    kill the database is intact and the design is not registered at all (no time, no hash, no
    registration event); registering again then succeeds, with the hash of the document, once."""
    unregistered = [(1, 1, "", 0)]

    def design_state(pilot: int) -> list[tuple]:
        rows = backend.query(
            "SELECT version, CASE WHEN registered_at IS NULL THEN 1 ELSE 0 END, "
            f"COALESCE(sha256, ''), (SELECT count(*) FROM audit_event WHERE action IN "
            f"('design_registered', 'design_amended')) FROM design_version WHERE pilot = {pilot}"
        )
        return [(v, null, sha or "", events) for v, null, sha, events in rows]

    registration = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_actions", "register", "--seed", "--hang"],
        cwd=ROOT,
        env=backend.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = registration.stdout.readline()
        assert line, registration.stderr.read()
        inside = json.loads(line)
        assert inside["step"] == INSIDE_REGISTRATION and inside["action"] == "design_registered"
        assert inside["registered"] is True and len(inside["sha256"]) == 64
        pilot = inside["pilot"]
        # Others cannot see the registration its transaction has written.
        assert design_state(pilot) == unregistered
        registration.send_signal(signal.SIGKILL)
        assert registration.wait(timeout=10) == -signal.SIGKILL
    finally:
        if registration.poll() is None:
            registration.kill()
            registration.wait()

    backend.check_integrity()
    assert design_state(pilot) == unregistered

    registered = _action(backend, "register")
    expected = hashlib.sha256(canonical_json(DOCUMENT).encode("utf-8")).hexdigest()
    assert registered == {"version": 1, "sha256": expected}
    assert design_state(pilot) == [(1, 0, expected, 1)]
