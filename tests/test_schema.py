"""Migrations build exactly the schema the tables declare."""

from __future__ import annotations

import asyncio

from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.querystring import QueryString

from testbed.piccolo_app import APP_CONFIG
from testbed.tables import TABLES


def test_migration_files_describe_the_declared_tables():
    """What `piccolo migrations new --auto` would write next is empty: nothing is unmigrated."""
    statements = asyncio.run(AutoMigrationManager().get_alter_statements(app_config=APP_CONFIG))
    pending = [line for group in statements for line in group.statements]
    assert pending == [], "tables changed without a migration:\n" + "\n".join(pending)


async def _live_columns(tablename: str) -> set[str]:
    engine = TABLES[0]._meta.db
    if engine.engine_type == "postgres":
        rows = await engine.run_querystring(
            QueryString(
                "SELECT column_name AS name FROM information_schema.columns WHERE table_name = {}",
                tablename,
            )
        )
    else:
        rows = await engine.run_ddl(f"PRAGMA table_info({tablename})")
    return {row["name"] for row in rows}


def test_migrated_database_has_every_declared_column(settings):
    for table in TABLES:
        declared = {column._meta.db_column_name for column in table._meta.columns}
        live = asyncio.run(_live_columns(table._meta.tablename))
        assert live == declared, f"{table._meta.tablename}: database {live} != tables {declared}"
