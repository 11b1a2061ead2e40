"""The database engine: SQLite in the data directory, or PostgreSQL from DATABASE_URL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
from asyncpg.exceptions import UniqueViolationError
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import (
    Atomic,
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.table import Table

from testbed.settings import Settings

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def engine_for(settings: Settings) -> Engine:
    if settings.uses_postgres:
        return PostgresEngine(config={"dsn": settings.database_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _enable_wal(settings)
    return ReadPoolSQLiteEngine(path=str(settings.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


def _enable_wal(settings: Settings) -> None:
    # WAL is a property of the file, so setting it once covers every later connection.
    with sqlite3.connect(settings.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to asyncpg's pool.

    By default the pool runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release: one more round trip per query, as Piccolo takes a pooled connection for each
    query outside a transaction. Testbed sets no session state (no SET, LISTEN, open cursors
    or session advisory locks: its advisory locks are transaction-scoped), and asyncpg still
    rolls back a transaction left open before calling this.
    """


# Options for the PostgreSQL pool (Piccolo passes them to asyncpg.create_pool).
POSTGRES_POOL_OPTIONS: dict[str, Any] = {"reset": _keep_session}


def is_unique_violation(error: BaseException) -> bool:
    """A unique constraint refused the write (SQLite or PostgreSQL): someone else got there
    between a service's check and its write."""
    if isinstance(error, UniqueViolationError):
        return True
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(error)


@asynccontextmanager
async def serialized(table: type[Table], lock_key: int) -> AsyncIterator[None]:
    """A transaction that runs alone among those holding the same lock, for read-then-write
    rules (is this address taken? is this the last admin?). On SQLite it takes the write lock at
    BEGIN (IMMEDIATE): a deferred transaction that read first fails at once with "database is
    locked" when another writer got there, busy timeout or not. On PostgreSQL it takes a
    transaction-scoped advisory lock on `lock_key` (one 64-bit key: a key space apart from the
    two-integer keys of uploads)."""
    engine = table._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            await table.raw("SELECT pg_advisory_xact_lock({})", lock_key)
            yield
    else:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield


class ReadPoolSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with reads on a few connections kept open.

    Piccolo's SQLite engine opens a connection for every query outside a transaction: a thread,
    the file, a PRAGMA, then closes it all, about 1.5 ms of CPU per query against 0.4 ms on an
    open connection. Between `start_connection_pool()` and `close_connection_pool()` (the app's
    lifespan, as for PostgreSQL's pool) a SELECT outside a transaction runs on one of at most
    `READ_CONNECTIONS` open connections instead. They are in autocommit mode, as Piccolo's are:
    each SELECT is its own read transaction (in WAL mode it sees everything committed before
    it) and the connection holds no lock between statements. Writes, DDL and transactions run
    exactly as before, on a connection of their own. When every kept connection is busy, a read
    waits for one; without a started pool (the CLI, scripts) a read opens a connection as
    before. A connection whose query failed or was cancelled is closed, never reused.
    """

    READ_CONNECTIONS = 4

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._idle: list[aiosqlite.Connection] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        """Every transaction takes the write lock at BEGIN, waiting for it (busy timeout). A
        deferred one (Piccolo's default) that reads and then writes fails at once with
        "database is locked" when another writer committed in between, busy timeout or not;
        with background writers (the mail sender, lease sweeps) any read-then-write could."""
        return super().transaction(transaction_type=transaction_type, allow_nested=allow_nested)

    def atomic(self, transaction_type: TransactionType = TransactionType.immediate) -> Atomic:
        return super().atomic(transaction_type=transaction_type)

    async def start_connection_pool(self, **_: Any) -> None:
        if self._idle is None:
            self._idle, self._slots = [], asyncio.Semaphore(self.READ_CONNECTIONS)
            self._loop = asyncio.get_running_loop()

    async def close_connection_pool(self) -> None:
        idle, self._idle, self._slots, self._loop = self._idle or [], None, None, None
        for connection in idle:
            await connection.close()

    async def _connect(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # A kept connection must never keep the process alive if the pool is not closed (a
        # worker stopped before its shutdown hook ran): make aiosqlite's thread a daemon.
        thread = getattr(connection, "_thread", None)
        if thread is not None:
            thread.daemon = True
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table=None
    ):
        slots = self._slots
        if (
            slots is None
            # Another event loop than the app's (a script's or a test's own asyncio.run while
            # the app runs) opens its own connection, as does anything but a SELECT.
            or asyncio.get_running_loop() is not self._loop
            or not query.lstrip()[:7].upper().startswith("SELECT")
        ):
            return await super()._run_in_new_connection(query, args, query_type, table)
        async with slots:  # at most READ_CONNECTIONS reads at once; the others wait their turn
            idle = self._idle
            connection = idle.pop() if idle else await self._connect()
            try:
                async with connection.execute(query, args or []) as cursor:
                    rows = await cursor.fetchall()
            except BaseException:
                await asyncio.shield(connection.close())
                raise
            if self._idle is None:  # the pool was closed meanwhile
                await connection.close()
            else:
                self._idle.append(connection)
        return rows
