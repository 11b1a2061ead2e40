"""On SQLite every transaction waits for the write lock at BEGIN.

A deferred transaction (Piccolo's default) that reads and then writes fails at once with
"database is locked" when another connection wrote in between, whatever the busy timeout:
its read snapshot is stale. With the mail sender and the lease sweeps writing in the
background, any read-then-write could meet one (an outside run saw a 500 on the
implementation log). https://www.sqlite.org/lang_transaction.html, "BEGIN IMMEDIATE".
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from testbed.tables import AuditEvent


@pytest.fixture
def engine(settings):
    engine = AuditEvent._meta.db
    if engine.engine_type != "sqlite":
        pytest.skip("SQLite's locking")
    return engine


def _other_writer(path: str, holding: threading.Event) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    holding.set()
    time.sleep(0.3)
    connection.execute(
        "INSERT INTO audit_event (action, object_type, object_id, detail, ip_address, "
        "created_at) VALUES ('other', 'x', '0', '{}', '', '2026-01-01 00:00:00+00:00')"
    )
    connection.execute("COMMIT")
    connection.close()


def test_a_transaction_that_reads_then_writes_waits_for_another_writer(engine, settings):
    async def read_then_write() -> None:
        holding = threading.Event()
        writer = threading.Thread(target=_other_writer, args=(str(settings.sqlite_path), holding))
        writer.start()
        holding.wait(5)
        async with engine.transaction():
            await AuditEvent.count()
            await AuditEvent.insert(AuditEvent(action="mine", object_type="x", object_id="0"))
        writer.join()

    asyncio.run(read_then_write())
    actions = AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id).run_sync()
    assert [row["action"] for row in actions] == ["other", "mine"]
