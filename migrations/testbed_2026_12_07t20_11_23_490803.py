from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz

ID = "2026-12-07T20:11:23:490803"
VERSION = "1.38.0"
DESCRIPTION = "change_check_indexes"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="testbed", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="DistrictProfile",
        tablename="district_profile",
        column_name="updated_at",
        db_column_name="updated_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Pilot",
        tablename="pilot",
        column_name="updated_at",
        db_column_name="updated_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Enrollment",
        tablename="enrollment",
        column_name="updated_at",
        db_column_name="updated_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="DesignVersion",
        tablename="design_version",
        column_name="registered_at",
        db_column_name="registered_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Finding",
        tablename="finding",
        column_name="published_at",
        db_column_name="published_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Finding",
        tablename="finding",
        column_name="retracted_at",
        db_column_name="retracted_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
