from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class Organization(Table, tablename="organization", schema=None):
    pass


ID = "2026-12-07T19:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "district_search_trigram_index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    # The directory search asks `name ILIKE '%word%' OR description ILIKE '%word%'`: without an
    # index PostgreSQL reads every organization, so a search slowed with the network. pg_trgm's
    # GIN indexes answer ILIKE with a leading wildcard. PostgreSQL only: SQLite's LIKE has no
    # such index, and at its sizes the scan is fast enough. pg_trgm ships with PostgreSQL
    # (contrib) and is a trusted extension (PostgreSQL 13+): the database owner may create it.
    async def trigram_indexes():
        if Organization._meta.db.engine_type != "postgres":
            return
        await Organization.raw("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await Organization.raw(
            "CREATE INDEX IF NOT EXISTS organization_name_trigram "
            "ON organization USING gin (name gin_trgm_ops)"
        )
        await Organization.raw(
            "CREATE INDEX IF NOT EXISTS organization_description_trigram "
            "ON organization USING gin (description gin_trgm_ops)"
        )

    async def drop_trigram_indexes():
        if Organization._meta.db.engine_type != "postgres":
            return
        await Organization.raw("DROP INDEX IF EXISTS organization_name_trigram")
        await Organization.raw("DROP INDEX IF EXISTS organization_description_trigram")

    manager.add_raw(trigram_indexes)
    manager.add_raw_backwards(drop_trigram_indexes)

    return manager
