"""Storage faults: a database that turns read-only or full answers JSON 500 to the requests
that need it, logs one clear line, keeps the process serving, resumes once the fault clears,
and damages nothing already stored.

Read-only is made in the engines (SQLite's `query_only`, PostgreSQL's read-only
transactions); a full disk is a real one for SQLite (a small tmpfs filled to the last byte)
and, for PostgreSQL, whose files are not ours to fill, a trigger raising SQLSTATE 53100
(disk_full), the error PostgreSQL gives when its disk is full."""

import contextlib
import dataclasses
import errno
import logging
import os
import subprocess
from pathlib import Path

import httpx
import pytest

import storage
from kener_api import create_app
from kener_api.errors import STORAGE_FAULT
from tests.conftest import TOKEN, serving
from tests.test_errors_and_auth import assert_error

WRITES = [
    ("POST", "/api/status", {"status": "DOWN", "latency": 5, "tag": "earth"}),
    ("POST", "/api/incident", {"title": "during the fault", "tags": ["earth"]}),
    ("POST", "/api/incident/1/comment", {"body": "during the fault"}),
    ("PATCH", "/api/incident/1", {"title": "replaced during the fault", "tags": ["google"]}),
    ("POST", "/api/incident/1/status", {"isResolved": True}),
]


def snapshot(api) -> tuple:
    return (
        api.get("/api/status", params={"tag": "earth"}).json(),
        api.get("/api/incident/1").json(),
        api.get("/api/incident/1/comment").json(),
        api.get("/api/incident", params={"state": "open"}).json(),
    )


def reconnect_with(change) -> None:
    """Apply `change` to how the pool opens connections, and drop the open ones so that every
    later request gets a connection made that way."""
    db = storage.database.database.obj
    db.close_all()
    change(db)
    db.close_all()


@contextlib.contextmanager
def sqlite_pragma(name: str, value):
    original = list(storage.database.database.obj._pragmas)
    reconnect_with(lambda db: setattr(db, "_pragmas", [*original, (name, value)]))
    try:
        yield
    finally:
        reconnect_with(lambda db: setattr(db, "_pragmas", original))


@contextlib.contextmanager
def read_only():
    db = storage.database.database.obj
    if storage.database.is_sqlite():
        with sqlite_pragma("query_only", 1):
            yield
        return
    original = db.connect_params.get("options", "")
    reconnect_with(
        lambda db: db.connect_params.update(
            options=f"{original} -c default_transaction_read_only=on".strip()
        )
    )
    try:
        yield
    finally:
        reconnect_with(lambda db: db.connect_params.update(options=original))


@contextlib.contextmanager
def postgres_disk_full():
    db = storage.database.database
    tables = ("data_point", "incident", "incident_tag", "comment")
    with db.connection_context():
        db.execute_sql(
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"
        )
        for table in tables:
            db.execute_sql(
                f"CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION disk_full()"
            )
    try:
        yield
    finally:
        with db.connection_context():
            db.execute_sql("DROP FUNCTION disk_full() CASCADE")


@contextlib.contextmanager
def filled(disk: Path):
    """`disk` filled to the last byte, until the block exits."""
    db = storage.database.database
    with db.connection_context():
        # An empty write-ahead log: the next write must grow it, and cannot.
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    try:
        yield
    finally:
        filler.unlink()


def seed(api) -> None:
    assert (
        api.post("/api/status", json={"status": "UP", "latency": 1, "tag": "earth"}).status_code
        == 200
    )
    assert api.post("/api/incident", json={"title": "before", "tags": ["earth"]}).status_code == 200
    assert api.post("/api/incident/1/comment", json={"body": "before"}).status_code == 200


def assert_fault_handled(api, caplog, fault, *causes: str) -> None:
    seed(api)
    before = snapshot(api)
    caplog.set_level(logging.ERROR, logger="kener_api.errors")
    with fault:
        for method, path, body in WRITES:
            answer = api.request(method, path, json=body)
            assert_error(answer, 500)
            assert answer.json()["error"] == STORAGE_FAULT
            # Reads go on being answered.
            assert snapshot(api) == before
    faults = [r.getMessage() for r in caplog.records if r.name == "kener_api.errors"]
    assert len(faults) == len(WRITES)
    for line, (method, path, _) in zip(faults, WRITES, strict=True):
        assert line.startswith(f"storage fault on {method} {path}: ")
        assert "\n" not in line
        assert any(cause in line.lower() for cause in causes), line
    # Nothing stored was touched, and once the fault clears every write works again.
    assert snapshot(api) == before
    for method, path, body in WRITES:
        assert api.request(method, path, json=body).status_code == 200
    assert api.get("/api/incident/1").json()["title"] == "replaced during the fault"


def test_read_only_database(api, caplog):
    assert_fault_handled(api, caplog, read_only(), "readonly", "read-only")


def test_keys_still_read_from_a_read_only_database(api, clock, caplog):
    """A key's use is a write ("last used"): a read-only database loses that record only."""
    key = storage.keys.create_key("reader", "read", int(clock.now))
    with read_only():
        answer = api.get("/api/incident", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    assert storage.keys.list_keys()[0].last_used_at is None
    assert any("could not record the use of key 'reader'" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_disk_full(api, caplog):
    assert_fault_handled(api, caplog, postgres_disk_full(), "no space left on device")


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs), to fill for real."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"filling a disk needs to mount a tmpfs (root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        storage.close_database()
        subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_disk_full(settings, small_disk, caplog):
    on_small_disk = dataclasses.replace(
        settings, data_dir=small_disk, database_url=f"sqlite:///{small_disk / 'kener.db'}"
    )
    app = create_app(on_small_disk)
    with (
        serving(app, on_small_disk) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as api,
    ):
        assert_fault_handled(api, caplog, filled(small_disk), "disk is full")
        with storage.database.database.connection_context():
            check = storage.database.database.execute_sql("PRAGMA integrity_check").fetchall()
        assert check == [("ok",)]
