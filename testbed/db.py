"""The database engine: SQLite in the data directory, or PostgreSQL from DATABASE_URL."""

from __future__ import annotations

import sqlite3

from asyncpg.exceptions import UniqueViolationError
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from testbed.settings import Settings

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def engine_for(settings: Settings) -> Engine:
    if settings.uses_postgres:
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _enable_wal(settings)
    return SQLiteEngine(path=str(settings.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


def _enable_wal(settings: Settings) -> None:
    # WAL is a property of the file, so setting it once covers every later connection.
    with sqlite3.connect(settings.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def is_unique_violation(error: BaseException) -> bool:
    """A unique constraint refused the write (SQLite or PostgreSQL): someone else got there
    between a service's check and its write."""
    if isinstance(error, UniqueViolationError):
        return True
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(error)
