"""Piccolo's app config: the tables and where their migrations live."""

from piccolo.conf.apps import AppConfig

from testbed.settings import ROOT
from testbed.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="testbed",
    migrations_folder_path=str(ROOT / "migrations"),
    table_classes=TABLES,
)
