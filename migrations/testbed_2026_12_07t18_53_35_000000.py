from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class CostSheet(Table, tablename="cost_sheet", schema=None):
    pass


ID = "2026-12-07T18:53:35:000000"
VERSION = "1.38.0"
DESCRIPTION = "cost_sheet_unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # One cost sheet per pilot site: two first entries at once could both create one; the index
    # refuses the second (a migration of its own: raw steps run before new tables exist).
    async def add_unique_index():
        await CostSheet.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS cost_sheet_pilot_district "
            "ON cost_sheet (pilot, district)"
        )

    async def drop_unique_index():
        await CostSheet.raw("DROP INDEX IF EXISTS cost_sheet_pilot_district")

    manager.add_raw(add_unique_index)
    manager.add_raw_backwards(drop_unique_index)

    return manager
