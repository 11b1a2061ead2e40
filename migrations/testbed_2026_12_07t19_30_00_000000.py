from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class Observation(Table, tablename="observation", schema=None):
    pass


ID = "2026-12-07T19:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "observation_dataset_checked_per_statement"

# PostgreSQL checks a foreign key row by row: a trigger per inserted row that looks the dataset
# up and locks it. For an upload of a million observations that was most of the import (about
# 7 s of 13 s, bench/README.md). Here the same rule is checked once per statement (one COPY of
# up to 50,000 rows): every dataset the new rows name is locked against deletion as the
# foreign key locked it (FOR KEY SHARE) and must exist, or the statement fails with the foreign
# key's error code. Deleting or renumbering a dataset still deletes or follows its
# observations. SQLite keeps the declared foreign key.
FORWARDS = (
    """
    ALTER TABLE observation DROP CONSTRAINT IF EXISTS observation_dataset_fkey
    """,
    """
    CREATE FUNCTION observation_datasets_exist() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM dataset WHERE id IN (SELECT DISTINCT dataset FROM added) FOR KEY SHARE;
        IF EXISTS (
            SELECT 1 FROM (SELECT DISTINCT dataset FROM added WHERE dataset IS NOT NULL) AS named
            WHERE NOT EXISTS (SELECT 1 FROM dataset WHERE dataset.id = named.dataset)
        ) THEN
            RAISE EXCEPTION 'insert or update on table "observation" violates foreign key '
                'constraint "observation_dataset_fkey"'
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'An observation names a dataset that does not exist.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER observation_dataset_on_insert AFTER INSERT ON observation
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION observation_datasets_exist()
    """,
    """
    CREATE TRIGGER observation_dataset_on_update AFTER UPDATE ON observation
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION observation_datasets_exist()
    """,
    """
    CREATE FUNCTION dataset_delete_observations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM observation WHERE dataset IN (SELECT id FROM removed);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER dataset_observations_on_delete AFTER DELETE ON dataset
        REFERENCING OLD TABLE AS removed
        FOR EACH STATEMENT EXECUTE FUNCTION dataset_delete_observations()
    """,
    """
    CREATE FUNCTION dataset_renumber_observations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE observation SET dataset = NEW.id WHERE dataset = OLD.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER dataset_observations_on_renumber AFTER UPDATE OF id ON dataset
        FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
        EXECUTE FUNCTION dataset_renumber_observations()
    """,
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="testbed", description=DESCRIPTION)

    async def check_per_statement():
        if Observation._meta.db.engine_type == "postgres":
            for statement in FORWARDS:
                await Observation._meta.db.run_ddl(statement)

    manager.add_raw(check_per_statement)

    return manager
