from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class User(Table, tablename="account", schema=None):
    pass


ID = "2026-12-07T15:15:53:000000"
VERSION = "1.38.0"
DESCRIPTION = "verify_existing_accounts"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # Everyone who had an account before addresses were verified keeps acting as before: their
    # address counts as verified from when the account was made. (A migration of its own:
    # Piccolo runs a migration's raw steps before its new columns exist.)
    async def verify_existing_accounts():
        await User.raw(
            "UPDATE account SET email_verified_at = created_at WHERE email_verified_at IS NULL"
        )

    manager.add_raw(verify_existing_accounts)

    return manager
