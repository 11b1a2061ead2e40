"""Piccolo's configuration module (PICCOLO_CONF=testbed.piccolo_conf).

The engine is built from the same environment settings the app reads.
"""

from piccolo.conf.apps import AppRegistry

from testbed.db import engine_for
from testbed.settings import Settings

DB = engine_for(Settings.from_env())

APP_REGISTRY = AppRegistry(apps=["testbed.piccolo_app"])
