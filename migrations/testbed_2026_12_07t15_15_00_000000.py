from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class NotificationSetting(Table, tablename="notification_setting", schema=None):
    pass


ID = "2026-12-07T15:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification_mail_unique_indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # The unique indexes the notification services rely on (their ON CONFLICT targets): one
    # choice per person, each "Your work" item told once, one digest per person per day. In a
    # migration of their own: a migration's raw steps run before its new tables exist.
    unique_indexes = {
        "notification_setting_one_per_user": 'notification_setting ("user")',
        "work_notice_once": 'work_notice ("user", kind, link, overdue)',
        "mail_digest_once": 'mail_digest ("user", sent_on)',
    }

    async def add_unique_indexes():
        for name, target in unique_indexes.items():
            await NotificationSetting.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop_unique_indexes():
        for name in unique_indexes:
            await NotificationSetting.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(add_unique_indexes)
    manager.add_raw_backwards(drop_unique_indexes)

    return manager
