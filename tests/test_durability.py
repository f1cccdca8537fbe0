"""An acknowledged write survives a killed server: a load of status pushes, incident creations
and comments runs while `kener-api serve` is killed with SIGKILL and restarted, again and
again; afterwards every write that was answered 200 is there, and the database is intact.

KENER_CRASH_KILLS sets how many kills (3 here; `tox -e stress` runs 25)."""

import itertools
import os
import random
import signal
import threading
import time

import httpx

import storage
from tests.conftest import TOKEN, start_serve_process

KILLS = int(os.environ.get("KENER_CRASH_KILLS", "3"))
WORKERS = 6


class Acknowledged:
    """What the server answered 200 to, across all the server's lives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.points: dict[int, float] = {}  # minute -> latency, tag earth
        self.incidents: dict[int, str] = {}  # number -> title
        self.comments: dict[int, tuple[int, str]] = {}  # comment id -> (incident, body)
        self.server_errors: list[str] = []
        self.sequence = itertools.count(1)
        # Pushes go to distinct minutes counting back from here, so none replaces another.
        self.base_minute = int(time.time()) // 60 * 60 - 60


def load(url: str, acknowledged: Acknowledged, stop: threading.Event) -> None:
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    while not stop.is_set():
        with acknowledged.lock:
            n = next(acknowledged.sequence)
            incidents = list(acknowledged.incidents)
        try:
            if n % 3 == 0:
                minute = acknowledged.base_minute - 60 * n
                answer = client.post(
                    "/api/status",
                    json={
                        "status": "UP",
                        "latency": n,
                        "tag": "earth",
                        "timestampInSeconds": minute,
                    },
                )
                if answer.status_code == 200:
                    with acknowledged.lock:
                        acknowledged.points[minute] = float(n)
            elif n % 3 == 1 or not incidents:
                title = f"incident {n}"
                answer = client.post("/api/incident", json={"title": title, "tags": ["earth"]})
                if answer.status_code == 200:
                    with acknowledged.lock:
                        acknowledged.incidents[answer.json()["incidentNumber"]] = title
            else:
                number = random.choice(incidents)
                body = f"comment {n}"
                answer = client.post(f"/api/incident/{number}/comment", json={"body": body})
                if answer.status_code == 200:
                    with acknowledged.lock:
                        acknowledged.comments[answer.json()["commentID"]] = (number, body)
            if answer.status_code >= 500:
                acknowledged.server_errors.append(answer.text)
        except httpx.TransportError:
            time.sleep(0.01)  # the server is gone or not yet back: nothing was acknowledged
    client.close()


def test_acknowledged_writes_survive_sigkill(database_url, tmp_path):
    acknowledged = Acknowledged()
    for life in range(KILLS):
        process, url = start_serve_process(database_url, tmp_path, tmp_path / f"life-{life}.log")
        stop = threading.Event()
        workers = [
            threading.Thread(target=load, args=(url, acknowledged, stop)) for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        time.sleep(random.uniform(0.5, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    assert acknowledged.server_errors == []
    assert len(acknowledged.points) > KILLS and len(acknowledged.incidents) > KILLS
    assert acknowledged.comments

    process, url = start_serve_process(database_url, tmp_path, tmp_path / "after.log")
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            for number, title in acknowledged.incidents.items():
                assert client.get(f"/api/incident/{number}").json()["title"] == title
            stored_comments = {}
            for number in {number for number, _ in acknowledged.comments.values()}:
                for comment in client.get(f"/api/incident/{number}/comment").json():
                    stored_comments[comment["commentID"]] = (number, comment["body"])
            for comment_id, comment in acknowledged.comments.items():
                assert stored_comments[comment_id] == comment
    finally:
        process.terminate()
        process.wait(timeout=30)

    storage.open_database(database_url)
    try:
        with storage.database.database.connection_context():
            db = storage.database.database
            points = dict(
                db.execute_sql("SELECT minute, latency FROM data_point WHERE tag = 'earth'")
            )
            for minute, latency in acknowledged.points.items():
                assert points.get(minute) == latency, minute
            if storage.database.is_sqlite():
                assert db.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert db.execute_sql("PRAGMA foreign_key_check").fetchall() == []
            # Every comment and tag row belongs to a stored incident.
            for table in ("comment", "incident_tag"):
                orphans = db.execute_sql(
                    f"SELECT COUNT(*) FROM {table} t "
                    "WHERE NOT EXISTS (SELECT 1 FROM incident i WHERE i.number = t.incident_id)"
                ).fetchone()[0]
                assert orphans == 0, table
    finally:
        storage.close_database()
    print(
        f"{KILLS} kills survived: {len(acknowledged.points)} pushes, "
        f"{len(acknowledged.incidents)} incidents, {len(acknowledged.comments)} comments "
        "acknowledged, none lost"
    )
