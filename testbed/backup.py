"""Backing up and restoring the database: `testbed backup PATH` and `testbed restore PATH`.

SQLite: SQLite's online backup API copies a consistent snapshot of the live file (WAL
included), safe while the service is serving. A restore checks the backup first (it opens, passes
`PRAGMA integrity_check` and has Piccolo's migration table), then copies it into the live
database through the same API, in one write transaction: other connections see the old data or
the new, never a mixture, and the WAL stays consistent with the file.

PostgreSQL: `pg_dump --format=custom` of DATABASE_URL, and `pg_restore --clean --if-exists
--no-owner --single-transaction`, so a failed restore changes nothing.

A backup is written to a temporary file next to PATH and renamed when complete, so PATH never
holds half a backup.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from testbed.db import SQLITE_BUSY_TIMEOUT_SECONDS
from testbed.settings import Settings

MIGRATION_TABLE = "migration"  # Piccolo's record of the applied migrations


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


def backup(settings: Settings, destination: Path) -> str:
    destination = destination.resolve()
    if destination.is_dir():
        raise BackupError(f"{destination} is a directory: give the backup file's name.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _written_atomically(destination) as partial:
        if settings.uses_postgres:
            _run(["pg_dump", "--format=custom", f"--file={partial}"], settings.database_url)
        elif not settings.sqlite_path.exists():
            raise BackupError(f"There is no database at {settings.sqlite_path} to back up.")
        else:
            _sqlite_backup(settings.sqlite_path, partial)
    return f"Backed up the database to {destination} ({destination.stat().st_size:,} bytes)."


def restore(settings: Settings, source: Path) -> str:
    source = source.resolve()
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    if settings.uses_postgres:
        listing = _run(["pg_restore", "--list", str(source)], None)
        if f" TABLE public {MIGRATION_TABLE} " not in listing:
            raise BackupError(f"{source} is not a backup of a Testbed database.")
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                str(source),
            ],
            settings.database_url,
        )
    else:
        _check_sqlite_backup(source)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _sqlite_backup(source, settings.sqlite_path)
    return f"Restored the database from {source}."


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_backup(source: Path, destination: Path) -> None:
    with (
        closing_sqlite(f"{source.as_uri()}?mode=ro") as reader,
        closing_sqlite(str(destination)) as writer,
    ):
        # pages=-1: the whole database in one step, so one write transaction on the destination.
        reader.backup(writer, pages=-1)


def _check_sqlite_backup(source: Path) -> None:
    try:
        with closing_sqlite(f"{source.as_uri()}?mode=ro") as database:
            verdict = database.execute("PRAGMA integrity_check").fetchone()[0]
            has_migrations = database.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (MIGRATION_TABLE,),
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} is not a SQLite database: {error}.") from error
    if verdict != "ok":
        raise BackupError(f"{source} is damaged: {verdict}.")
    if not has_migrations:
        raise BackupError(f"{source} is not a backup of a Testbed database.")


@contextmanager
def closing_sqlite(target: str) -> Iterator[sqlite3.Connection]:
    uri = target.startswith("file:")
    connection = sqlite3.connect(target, uri=uri, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        yield connection
    finally:
        connection.close()


# --- files and commands ---------------------------------------------------------------------


@contextmanager
def _written_atomically(destination: Path) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def _run(command: list[str], database_url: str | None) -> str:
    """Run a PostgreSQL client tool; the password travels in PGPASSWORD, not the command line."""
    if shutil.which(command[0]) is None:
        raise BackupError(
            f"{command[0]} is not installed (Debian: apt-get install postgresql-client)."
        )
    env = dict(os.environ)
    if database_url is not None:
        url, password = _without_password(database_url)
        if password is not None:
            env["PGPASSWORD"] = password
        command = [*command, f"--dbname={url}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()}")
    return result.stdout


def _without_password(database_url: str) -> tuple[str, str | None]:
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url, None
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password)
