"""Fixtures: a fresh database (SQLite file in a temporary directory, or PostgreSQL when
DATABASE_URL is set), migrated once as in production and emptied before each test that asks
for it, and a fresh app with a test client.

The environment is set here, before anything imports testbed: Piccolo picks its engine on the
first query and keeps it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_DATA_DIR = Path(tempfile.mkdtemp(prefix="testbed-tests-"))
os.environ["TESTBED_DATA_DIR"] = str(_DATA_DIR)
os.environ["PICCOLO_CONF"] = "testbed.piccolo_conf"
os.environ["TESTBED_SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("TESTBED_DEBUG", None)
# No background notification sweep: tests run it (testbed.notifications.background) when they
# mean to, so no test finds notifications it did not cause.
os.environ["TESTBED_NOTIFICATION_SWEEP_SECONDS"] = "0"
# Nor the start-up drawing of plots nobody drew (tests call testbed.drawings.warm_up).
os.environ["TESTBED_DRAW_AT_START"] = "0"

import pytest  # noqa: E402
from litestar import Litestar  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from testbed.app import create_app  # noqa: E402
from testbed.migrate import apply_migrations  # noqa: E402
from testbed.settings import Settings  # noqa: E402
from testbed.tables import TABLES  # noqa: E402


async def _empty_all_tables() -> None:
    engine = TABLES[0]._meta.db
    names = ", ".join(table._meta.tablename for table in TABLES)
    if engine.engine_type == "postgres":
        await engine.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        async with engine.transaction():
            for table in reversed(TABLES):
                await table.delete(force=True)


@pytest.fixture(scope="session")
def migrated_database() -> Settings:
    asyncio.run(apply_migrations())
    return Settings.from_env()


@pytest.fixture
def settings(migrated_database: Settings) -> Settings:
    asyncio.run(_empty_all_tables())
    return migrated_database


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def call(client: TestClient):
    """Run an async function in the app's event loop (needed with PostgreSQL's pool)."""

    def run(function, *args, **kwargs):
        return client.blocking_portal.call(lambda: function(*args, **kwargs))

    return run
