from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class PilotRole(Table, tablename="pilot_role", schema=None):
    pass


ID = "2026-12-05T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pilot_role_unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # One role per person per pilot. Two simultaneous grants could both pass the service's
    # check; the index refuses the second. Earlier duplicates (the first grant is kept) go first.
    async def add_unique_index():
        await PilotRole.raw(
            "DELETE FROM pilot_role WHERE id NOT IN "
            '(SELECT MIN(id) FROM pilot_role GROUP BY pilot, "user")'
        )
        await PilotRole.raw(
            'CREATE UNIQUE INDEX IF NOT EXISTS pilot_role_pilot_user ON pilot_role (pilot, "user")'
        )

    async def drop_unique_index():
        await PilotRole.raw("DROP INDEX IF EXISTS pilot_role_pilot_user")

    manager.add_raw(add_unique_index)
    manager.add_raw_backwards(drop_unique_index)

    return manager
