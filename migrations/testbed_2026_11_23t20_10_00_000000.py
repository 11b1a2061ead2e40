from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class Dataset(Table, tablename="dataset", schema=None):
    pass


ID = "2026-11-23T20:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dataset_versions_unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # The uploads' site lock keeps a site's versions in order; these indexes back it up in the
    # database: one version number per site of a pilot, and at most one current upload per site.
    async def add_unique_indexes():
        await Dataset.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS dataset_pilot_site_version "
            "ON dataset (pilot, site, version)"
        )
        await Dataset.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS dataset_one_current_per_site "
            "ON dataset (pilot, site) WHERE is_current"
        )

    async def drop_unique_indexes():
        await Dataset.raw("DROP INDEX IF EXISTS dataset_pilot_site_version")
        await Dataset.raw("DROP INDEX IF EXISTS dataset_one_current_per_site")

    manager.add_raw(add_unique_indexes)
    manager.add_raw_backwards(drop_unique_indexes)

    return manager
