"""Migrations build exactly the schema the tables declare."""

from __future__ import annotations

import asyncio

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.querystring import QueryString

from testbed.db import is_unique_violation
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


def test_the_pilot_role_migration_keeps_the_first_of_duplicate_roles(settings):
    """A database from before the unique index may hold one person twice on a pilot (two
    simultaneous grants): the migration keeps the first grant, then adds the index."""
    import importlib

    from testbed.tables import Organization, Pilot, PilotRole, Product, User

    migration = importlib.import_module("migrations.testbed_2026_12_05t09_00_00_000000")

    async def scenario() -> list[dict]:
        await PilotRole.raw("DROP INDEX pilot_role_pilot_user")
        vendor = (await Organization.insert(Organization(kind="vendor", name="V", slug="v")))[0]
        product = (await Product.insert(Product(vendor=vendor["id"], name="P")))[0]["id"]
        pilot = (await Pilot.insert(Pilot(product=product, title="T")))[0]["id"]
        user = (await User.insert(User(email="r@x.example", name="R", password_hash="-")))[0]
        for role in ("researcher", "observer", "researcher"):
            await PilotRole.insert(PilotRole(pilot=pilot, user=user["id"], role=role))
        manager = await migration.forwards()
        for step in manager.raw:
            await step()
        kept = await PilotRole.select(PilotRole.role).order_by(PilotRole.id)
        with pytest.raises(Exception) as refused:
            await PilotRole.insert(PilotRole(pilot=pilot, user=user["id"], role="observer"))
        assert is_unique_violation(refused.value)
        return kept

    assert asyncio.run(scenario()) == [{"role": "researcher"}]


def test_observations_name_an_existing_dataset_and_go_with_it(settings):
    """The observation -> dataset rule, checked per statement on PostgreSQL (a migration
    replaced the row-by-row foreign key) and by the foreign key on SQLite: a write naming a
    missing dataset is refused whole, and deleting or renumbering a dataset takes its rows."""
    from testbed.bulk import bulk_insert
    from testbed.tables import Dataset, Observation

    def rows(dataset: int, count: int) -> list[dict]:
        return [
            {"dataset": dataset, "student_key": f"k{i}", "arm": "control", "outcomes": {"y": i}}
            for i in range(count)
        ]

    async def scenario() -> None:
        kept = (await Dataset.insert(Dataset(kind="students")))[0]["id"]
        gone = (await Dataset.insert(Dataset(kind="students")))[0]["id"]
        await bulk_insert(Observation, rows(kept, 3) + rows(gone, 2))
        with pytest.raises(Exception, match="(?i)foreign key"):
            await bulk_insert(Observation, rows(kept, 2) + rows(gone + 100, 1))
        with pytest.raises(Exception, match="(?i)foreign key"):
            await Observation.update({Observation.dataset: gone + 100}).where(
                Observation.dataset == gone
            )
        assert await Observation.count() == 5
        await Dataset.delete().where(Dataset.id == gone)
        assert await Observation.count().where(Observation.dataset == gone) == 0
        await Dataset.update({Dataset.id: kept + 100}).where(Dataset.id == kept)
        assert await Observation.count().where(Observation.dataset == kept + 100) == 3

    asyncio.run(scenario())
