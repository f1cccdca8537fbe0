"""The triggers that keep `day_summary` (storage.models.DaySummary) equal to the points it
counts: an insert adds one to its day, a rewrite of a minute moves one from the old status to
the new, a delete (the retention job's) takes one away. They run inside the writing
statement, so a summary never disagrees with its points, whichever process or tool wrote
them.

They also count up `history_version` whenever a point older than a day changes (a late write
for an earlier minute, a retention delete): readers keep the summaries of days past while it
stays the same (storage.history).
"""

from peewee import SqliteDatabase

from storage.models import database

# SQL expressions: the day of a point, and 1/0 for each status.
# Integer division on both databases (minutes are positive); no `%`, which psycopg2 reads as
# a placeholder.
_DAY = "{row}.minute / 86400 * 86400"
_IS = "CASE WHEN {row}.status = '{status}' THEN 1 ELSE 0 END"


def _add(row: str) -> str:
    values = ", ".join(_IS.format(row=row, status=s) for s in ("UP", "DEGRADED", "DOWN"))
    return (
        f"INSERT INTO day_summary (tag, day, up, degraded, down) "
        f"VALUES ({row}.tag, {_DAY.format(row=row)}, {values}) "
        "ON CONFLICT (tag, day) DO UPDATE SET up = day_summary.up + excluded.up, "
        "degraded = day_summary.degraded + excluded.degraded, "
        "down = day_summary.down + excluded.down;"
    )


def _remove(row: str) -> str:
    return (
        "UPDATE day_summary SET "
        f"up = up - {_IS.format(row=row, status='UP')}, "
        f"degraded = degraded - {_IS.format(row=row, status='DEGRADED')}, "
        f"down = down - {_IS.format(row=row, status='DOWN')} "
        f"WHERE tag = {row}.tag AND day = {_DAY.format(row=row)};"
    )


# Points older than this (by the database's clock) are history whose summaries readers may
# keep (storage.history): any change to one counts up `history_version`.
SETTLED_SECONDS = 86_400
_SQLITE_NOW = "CAST(strftime('%s', 'now') AS INTEGER)"
_POSTGRES_NOW = "CAST(extract(epoch FROM now()) AS BIGINT)"


def _bump(row: str) -> str:
    # SQLite has row triggers only; it updates the one row in place.
    return (
        "UPDATE history_version SET n = n + 1 "
        f"WHERE {row}.minute < {_SQLITE_NOW} - {SETTLED_SECONDS};"
    )


# A rewrite that keeps the status, tag and minute (a new latency only) changes no count.
_CHANGED = "OLD.status <> NEW.status OR OLD.tag <> NEW.tag OR OLD.minute <> NEW.minute"

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS day_summary_insert AFTER INSERT ON data_point "
    f"BEGIN {_add('NEW')} {_bump('NEW')} END",
    f"CREATE TRIGGER IF NOT EXISTS day_summary_update AFTER UPDATE ON data_point WHEN {_CHANGED} "
    f"BEGIN {_remove('OLD')} {_add('NEW')} {_bump('OLD')} "
    f"{_bump('NEW')} END",
    "CREATE TRIGGER IF NOT EXISTS day_summary_delete AFTER DELETE ON data_point "
    f"BEGIN {_remove('OLD')} {_bump('OLD')} END",
]

_POSTGRES_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION day_summary_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN {_remove("OLD")} END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add("NEW")} END IF;
        RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER day_summary_insert AFTER INSERT ON data_point "
    "FOR EACH ROW EXECUTE FUNCTION day_summary_apply()",
    "CREATE OR REPLACE TRIGGER day_summary_update AFTER UPDATE ON data_point "
    f"FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION day_summary_apply()",
    "CREATE OR REPLACE TRIGGER day_summary_delete AFTER DELETE ON data_point "
    "FOR EACH ROW EXECUTE FUNCTION day_summary_apply()",
    # Once per statement, not per row: PostgreSQL keeps every version of a row updated again
    # and again in one transaction, and a retention batch or a bulk load of old points would
    # walk ever longer chains of them.
    f"""CREATE OR REPLACE FUNCTION history_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Each test in its own IF: a statement naming a transition table the trigger does
        -- not have fails when it is planned, and PL/pgSQL plans it when first reached.
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF EXISTS (SELECT 1 FROM new_rows WHERE minute < {_POSTGRES_NOW} - {SETTLED_SECONDS})
            THEN
                UPDATE history_version SET n = n + 1;
                RETURN NULL;
            END IF;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF EXISTS (SELECT 1 FROM old_rows WHERE minute < {_POSTGRES_NOW} - {SETTLED_SECONDS})
            THEN
                UPDATE history_version SET n = n + 1;
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER history_version_insert AFTER INSERT ON data_point "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION history_version_bump()",
    "CREATE OR REPLACE TRIGGER history_version_update AFTER UPDATE ON data_point "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION history_version_bump()",
    "CREATE OR REPLACE TRIGGER history_version_delete AFTER DELETE ON data_point "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION history_version_bump()",
]


def install() -> None:
    """Create the triggers that keep `day_summary`, and fill it from the points already
    stored. Run inside the schema lock (storage.database.migrate_schema): no point is
    written between the count and the triggers."""
    sqlite = isinstance(database.obj, SqliteDatabase)
    if not database.execute_sql("SELECT 1 FROM history_version").fetchone():
        database.execute_sql("INSERT INTO history_version (n) VALUES (0)")
    for statement in _SQLITE_TRIGGERS if sqlite else _POSTGRES_TRIGGERS:
        database.execute_sql(statement)
    database.execute_sql("DELETE FROM day_summary")
    database.execute_sql(
        "INSERT INTO day_summary (tag, day, up, degraded, down) "
        f"SELECT tag, {_DAY.format(row='data_point')}, "
        + ", ".join(
            f"SUM({_IS.format(row='data_point', status=s)})" for s in ("UP", "DEGRADED", "DOWN")
        )
        + f" FROM data_point GROUP BY tag, {_DAY.format(row='data_point')}"
    )
