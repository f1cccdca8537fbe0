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
    storage.close_database()


if __name__ == "__main__":
    seed(sys.argv[1], int(sys.argv[2]))
