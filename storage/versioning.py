"""The triggers that count up `data_version` (storage.models.DataVersion) in the transaction of
every change to what the public answers show: data points, incidents, their tags and their
comments. Being the database's own, they count every writer: this process or another, the
retention job, a bulk load, a tool with a plain SQL connection. Readers
(storage.overview.data_version) read the sum of the counters.

A rewrite of a minute that keeps its status, tag and minute (a new latency only) counts
nothing: no public answer shows latencies.

On PostgreSQL the counter is spread over POSTGRES_SLOTS rows, each writing transaction adding
to the row of its transaction id. One row updated by every write would be locked by each
writer from its statement until its commit, WAL flush included, so that concurrent status
pushes would commit one after the other. A deferred constraint trigger would take that lock
only at commit, but still across the flush, and fires once per row (constraint triggers are
row triggers): a bulk load of a million points would update the row a million times in one
transaction. With the slots, two writers wait for each other only when their transaction ids
fall on the same slot; the sum stays a single consistent read of a few rows, and it only
grows, so two reads give the same sum only if no write committed between them.
"""

from peewee import SqliteDatabase

from storage.models import database

TABLES = ("data_point", "incident", "incident_tag", "comment")
POSTGRES_SLOTS = 64

_POINT_CHANGED = "OLD.status <> NEW.status OR OLD.tag <> NEW.tag OR OLD.minute <> NEW.minute"


def _sqlite_triggers() -> list[str]:
    # SQLite has row triggers only; each updates the one row in place.
    statements = []
    for table in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            when = f" WHEN {_POINT_CHANGED}" if (table, event) == ("data_point", "UPDATE") else ""
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS data_version_{table}_{event.lower()} "
                f"AFTER {event} ON {table}{when} "
                "BEGIN UPDATE data_version SET n = n + 1; END"
            )
    return statements


# No `%`, which psycopg2 reads as a placeholder: mod().
_POSTGRES_BUMP = (
    f"UPDATE data_version SET n = n + 1 WHERE slot = mod(txid_current(), {POSTGRES_SLOTS})"
)


def _postgres_triggers() -> list[str]:
    # Once per statement, not per row (see storage.rollup: a bulk load would otherwise update
    # one row again and again in one transaction), and only when the statement changed a row.
    statements = [
        f"""CREATE OR REPLACE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Each test in its own branch: a statement naming a transition table the trigger
            -- does not have fails when it is planned, and PL/pgSQL plans it when first reached.
            IF TG_OP = 'DELETE' THEN
                IF EXISTS (SELECT 1 FROM old_rows) THEN {_POSTGRES_BUMP}; END IF;
            ELSIF EXISTS (SELECT 1 FROM new_rows) THEN
                {_POSTGRES_BUMP};
            END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION data_version_bump_points() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT tag, minute, status FROM new_rows
                       EXCEPT SELECT tag, minute, status FROM old_rows) THEN
                {_POSTGRES_BUMP};
            END IF;
            RETURN NULL;
        END $$""",
    ]
    for table in TABLES:
        update = "data_version_bump_points" if table == "data_point" else "data_version_bump"
        statements += [
            f"CREATE OR REPLACE TRIGGER data_version_{table}_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION data_version_bump()",
            f"CREATE OR REPLACE TRIGGER data_version_{table}_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {update}()",
            f"CREATE OR REPLACE TRIGGER data_version_{table}_delete AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION data_version_bump()",
        ]
    return statements


def install() -> None:
    """Create the counters' rows and the triggers that count them up. Run inside the schema
    lock (storage.database.migrate_schema); safe to run again."""
    sqlite = isinstance(database.obj, SqliteDatabase)
    rows = ", ".join(f"({slot}, 0)" for slot in range(1 if sqlite else POSTGRES_SLOTS))
    database.execute_sql(
        f"INSERT INTO data_version (slot, n) VALUES {rows} ON CONFLICT (slot) DO NOTHING"
    )
    for statement in _sqlite_triggers() if sqlite else _postgres_triggers():
        database.execute_sql(statement)
