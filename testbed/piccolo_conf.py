"""Piccolo's configuration module (PICCOLO_CONF=testbed.piccolo_conf).

The engine is built from the same environment settings the app reads, here and not in
`create_app`: Piccolo's tables are classes shared by the whole process, and each finds its
engine by importing this module on its first query (`engine_finder`) and keeps it. Migrations,
the `piccolo` and `testbed` commands and the test fixtures query before any app exists, so one
engine a process, from the environment, is the only choice that keeps them all on the same
database. `create_app(settings)` uses that engine; its settings must name the same database
(`Settings.from_env()` does). docs/architecture.md, "The database engine".
"""

from piccolo.conf.apps import AppRegistry

from testbed.db import engine_for
from testbed.settings import Settings

DB = engine_for(Settings.from_env())

APP_REGISTRY = AppRegistry(apps=["testbed.piccolo_app"])
