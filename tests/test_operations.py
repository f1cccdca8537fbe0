"""Operations: online backups and their restore, the retention of minute data, the access
log."""

import json
import logging
import shutil
import subprocess
import threading
import time

import httpx
import pytest

import storage
from kener_api.cli import main as cli
from kener_api.retention import DAY, RetentionJob
from kener_api.settings import Settings
from storage.models import DataPoint
from tests.conftest import TOKEN

# ----------------------------------------------------------------------------- backup


def incidents_in(url: str) -> list[tuple[int, str]]:
    storage.open_database(url)
    try:
        with storage.database.database.connection_context():
            return storage.database.database.execute_sql(
                "SELECT number, title FROM incident ORDER BY number"
            ).fetchall()
    finally:
        storage.close_database()


def test_backup_while_writing_is_consistent_and_restores(api, live_server, tmp_path, monkeypatch):
    database_url = live_server.settings.database
    monkeypatch.setenv("DATABASE_URL", database_url)
    stop = threading.Event()
    written = []

    def writer():
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            i = 0
            while not stop.is_set():
                i += 1
                answer = client.post("/api/incident", json={"title": f"w{i}", "tags": ["earth"]})
                assert answer.status_code == 200
                written.append(answer.json()["incidentNumber"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.5)
        copy = tmp_path / "backup.db"
        assert cli(["backup", str(copy)]) == 0
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert cli(["backup", str(copy)]) == 2  # never overwrites

    if database_url.startswith("sqlite"):
        restored = tmp_path / "restored" / "kener.db"
        restored.parent.mkdir()
        shutil.copy(copy, restored)  # the documented restore: the file as the database
        restored_url = f"sqlite:///{restored}"
    else:
        schema = database_url.rsplit("search_path%3D", 1)[1]
        restored_url = database_url
        storage.close_database()
        psql = database_url.split("?")[0]
        subprocess.run(["psql", "-q", psql, "-c", f"DROP SCHEMA {schema} CASCADE"], check=True)
        subprocess.run(["pg_restore", "--dbname", psql, str(copy)], check=True)
    backed_up = incidents_in(restored_url)
    # A snapshot: every incident up to the newest one in it, none missing, each as written...
    assert backed_up and [n for n, _ in backed_up] == list(range(1, len(backed_up) + 1))
    assert all(title == f"w{n}" for n, title in backed_up)
    # ...taken while the writer went on.
    assert 0 < len(backed_up) < len(written)


def test_backup_names_what_is_wrong(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli(["backup", str(tmp_path / "copy.db"), "--data-dir", str(tmp_path / "none")]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "copy.db").exists()


# ----------------------------------------------------------------------------- retention


@pytest.fixture
def store(database_url, clock):
    storage.open_database(database_url)
    storage.catalog.configure([storage.Monitor("earth", "Earth")], clock)
    yield
    storage.close_database()


def put_points(tag: str, minutes) -> None:
    with storage.database.database.connection_context():
        DataPoint.insert_many(
            [{"tag": tag, "minute": m, "status": "UP", "latency": 1.0} for m in minutes]
        ).execute()


def stored_minutes(tag: str) -> list[int]:
    with storage.database.database.connection_context():
        return [
            p.minute
            for p in DataPoint.select().where(DataPoint.tag == tag).order_by(DataPoint.minute)
        ]


def test_prune_removes_old_points_of_every_tag_in_batches(store, clock, monkeypatch):
    monkeypatch.setattr(storage.maintenance, "PRUNE_BATCH", 7)
    now = int(clock.now) // 60 * 60
    cut = now - 10 * DAY
    old = [cut - 60 * i for i in range(1, 31)]  # 30 points: several batches
    kept = [cut, cut + 60, now]
    for tag in ("earth", "removed-monitor", "zzz"):
        put_points(tag, old + kept)
    incident = storage.create_incident(storage.IncidentContent(title="kept", tags=["earth"]))
    assert storage.maintenance.prune_points(cut) == 90
    for tag in ("earth", "removed-monitor", "zzz"):
        assert stored_minutes(tag) == kept
    assert storage.get_incident(incident.number).title == "kept"
    assert storage.maintenance.prune_points(cut) == 0


def test_retention_job_runs_at_start_and_on_its_interval(store, clock):
    now = int(clock.now) // 60 * 60
    put_points("earth", [now - 3 * DAY, now - 2 * DAY, now])
    job = RetentionJob(days=2, clock=clock, interval=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 10
        while stored_minutes("earth") != [now] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_minutes("earth") == [now]  # older than 2 days, boundary excluded
        put_points("earth", [now - 5 * DAY])  # arrives later: the next round takes it
        while stored_minutes("earth") != [now] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_minutes("earth") == [now]
    finally:
        job.stop()


def test_retention_zero_keeps_everything(store, clock):
    put_points("earth", [0, 60])
    job = RetentionJob(days=0, clock=clock, interval=0.01)
    job.start()
    time.sleep(0.1)
    job.stop()
    assert stored_minutes("earth") == [0, 60]


def test_retention_settings():
    assert Settings.load({}).retention_days == 90
    assert Settings.load({"KENER_RETENTION_DAYS": "0"}).retention_days == 0
    with pytest.raises(ValueError, match="KENER_RETENTION_DAYS"):
        Settings.load({"KENER_RETENTION_DAYS": "-1"})


# ----------------------------------------------------------------------------- access log


def access_entries(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "kener_api.access"]


def test_access_log_has_one_entry_per_request_and_no_credential(
    live_server, api, anonymous, caplog, clock
):
    caplog.set_level(logging.INFO, logger="kener_api.access")
    key = storage.keys.create_key("pusher", "push", int(clock.now))
    api.post("/api/status", json={"status": "UP", "latency": 1, "tag": "earth"})
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        client.post(
            "/api/status",
            json={"status": "UP", "latency": 1, "tag": "earth"},
            headers={"Authorization": f"Bearer {key}"},
        )
        # Credentials where they do not belong: in the query and the path.
        client.get(
            f"/api/status?tag=earth&token={TOKEN}", headers={"Authorization": f"Bearer {key}"}
        )
        client.get(f"/api/{key}")
    anonymous.get("/api/incident")

    entries = access_entries(caplog)
    assert [(e["method"], e["path"], e["status"], e["credential"]) for e in entries] == [
        ("POST", "/api/status", 200, "api-token"),
        ("POST", "/api/status", 200, "key:pusher"),
        ("GET", "/api/status", 401, None),
        ("GET", "/api/[redacted]", 404, None),
        ("GET", "/api/incident", 401, None),
    ]
    assert entries[2]["query"] == "tag=earth&token=[redacted]"
    for entry in entries:
        assert entry["client"] == entry["peer"] == "127.0.0.1"
        assert entry["ms"] >= 0 and entry["bytes"] > 0
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything and key not in everything


def test_access_log_can_be_turned_off(settings, caplog):
    import dataclasses

    from tests.test_security import server

    caplog.set_level(logging.INFO, logger="kener_api.access")
    with server(dataclasses.replace(settings, access_log=False)) as client:
        assert client.get("/api/incident").status_code == 200
    assert access_entries(caplog) == []
