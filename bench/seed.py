"""Bulk data for the benchmark, loaded straight into storage (not through HTTP)."""

import sys
import time

import storage
from storage.models import DataPoint, Incident, IncidentTag, database


def seed(database_url: str, incidents: int) -> None:
    storage.open_database(database_url)
    now = int(time.time())
    today = now - now % 86_400
    minutes = range(today, now - now % 60 + 1, 60)
    with database.atomic():
        rows = [{"tag": "google", "minute": m, "status": "UP", "latency": 1.0} for m in minutes]
        # google gets a full day: 1,440 points (yesterday's tail fills what today lacks).
        rows += [
            {"tag": "google", "minute": today - 60 * i, "status": "DOWN", "latency": 1.0}
            for i in range(1, 1441 - len(rows) + 1)
        ]
        for start in range(0, len(rows), 500):
            DataPoint.insert_many(rows[start : start + 500]).on_conflict_ignore().execute()
        for start in range(0, incidents, 500):
            batch = [
                {
                    "title": f"Incident {n}",
                    "title_folded": f"incident {n}",
                    "created_at": now - incidents + n,
                    "is_resolved": n % 3 == 0,
                }
                for n in range(start, min(start + 500, incidents))
            ]
            Incident.insert_many(batch).execute()
        numbers = [i.number for i in Incident.select(Incident.number)]
        tags = [{"incident": n, "tag": ("earth", "google")[n % 2], "position": 0} for n in numbers]
        for start in range(0, len(tags), 500):
            IncidentTag.insert_many(tags[start : start + 500]).execute()
    if not storage.database.is_sqlite():
        # Fresh planner statistics, as autovacuum would gather a while after a bulk load:
        # without them PostgreSQL plans the tag search for 8 rows, not 10,000.
        database.execute_sql("ANALYZE")
    storage.close_database()


def history_tags(monitors: int) -> list[str]:
    return [f"history-{i:03d}" for i in range(monitors)]


def seed_history(database_url: str, monitors: int, days: int, incidents: int) -> float:
    """`monitors` monitors with one point a minute for the last `days` days (google keeps its
    single day), and `incidents` incidents. Generated inside the database (a recursive CTE on
    SQLite, generate_series on PostgreSQL): 13 million rows take about a minute, not an hour
    of HTTP. Answers the seconds it took."""
    started = time.monotonic()
    seed(database_url, incidents)
    storage.open_database(database_url)
    now = int(time.time())
    last = now - now % 60
    first = last - days * 86_400 + 60
    with database.atomic():
        for tag in history_tags(monitors):
            if storage.database.is_sqlite():
                database.execute_sql(
                    "WITH RECURSIVE m(minute) AS (SELECT ? UNION ALL SELECT minute + 60 FROM m"
                    " WHERE minute < ?) INSERT INTO data_point (tag, minute, status, latency)"
                    " SELECT ?, minute, CASE WHEN minute % 3600 = 0 THEN 'DOWN' ELSE 'UP' END,"
                    " 1.0 FROM m",
                    (first, last, tag),
                )
            else:
                database.execute_sql(
                    "INSERT INTO data_point (tag, minute, status, latency)"
                    " SELECT %s, minute, CASE WHEN minute %% 3600 = 0 THEN 'DOWN' ELSE 'UP' END,"
                    " 1.0 FROM generate_series(%s::bigint, %s::bigint, 60) AS minute",
                    (tag, first, last),
                )
    if not storage.database.is_sqlite():
        # The bulk load rewrote each day's summary row once per point (storage.rollup): 1.3
        # million dead row versions for 900 live rows, which autovacuum would clear a while
        # later. Cleared now, so that reads are measured as they run in service.
        database.execute_sql("VACUUM ANALYZE")
    storage.close_database()
    return time.monotonic() - started


def monitors_file(path, monitors: int) -> None:
    """A monitors.yaml with earth, google and the history monitors."""
    lines = [
        "- {name: Earth, tag: earth}",
        "- {name: Google, tag: google, includeDegradedInDowntime: true}",
    ]
    lines += [f"- {{name: {tag}, tag: {tag}}}" for tag in history_tags(monitors)]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    seed(sys.argv[1], int(sys.argv[2]))
