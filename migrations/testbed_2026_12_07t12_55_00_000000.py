from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class Dataset(Table, tablename="dataset", schema=None):
    pass


ID = "2026-12-07T12:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "neutral_upload_filenames"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # Uploaded files were kept under the names they arrived with, which can carry a student's
    # name or number. They become what, where and which version (or job); the old names are
    # not kept anywhere, so there is nothing to go back to.
    async def neutralize():
        await Dataset.raw(
            "UPDATE dataset SET filename = kind || '-site-' || CAST(site AS VARCHAR(20)) "
            "|| '-version-' || CAST(version AS VARCHAR(20)) || '.csv'"
        )
        await Dataset.raw(
            "UPDATE upload_job SET filename = kind || '-site-' || CAST(site AS VARCHAR(20)) "
            "|| '-upload-' || CAST(id AS VARCHAR(20)) || '.csv'"
        )

    manager.add_raw(neutralize)

    return manager
