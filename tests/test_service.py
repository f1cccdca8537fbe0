"""What running the service needs: liveness, readiness with the database locked or failing,
and the contract served as YAML and JSON, the same document the server validates with."""

import json
import logging
import sqlite3
import time

import pytest
import yaml
from playhouse.db_url import connect

from kener_api.app import SPEC_PATH

SPEC_TEXT = SPEC_PATH.read_text(encoding="utf-8")


def test_liveness_needs_no_credential_and_ignores_query_parameters(anonymous):
    for path in ("/healthz", "/healthz?probe=1"):
        answer = anonymous.get(path)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {"status": "ok"}


def test_readiness_answers_ready_when_the_database_does(anonymous):
    answer = anonymous.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready"}


def hold_the_database(database_url: str, tmp_path):
    """Another connection that keeps the server's reads from answering: on SQLite the table
    the check reads is moved away (a damaged database: the read fails); on PostgreSQL it is
    locked ACCESS EXCLUSIVE (a stuck database: the read waits). Answers a function that lets
    go."""
    if database_url.startswith("sqlite"):
        other = sqlite3.connect(tmp_path / "kener.db", isolation_level=None)
        other.execute("ALTER TABLE schema_version RENAME TO schema_version_away")

        def release():
            other.execute("ALTER TABLE schema_version_away RENAME TO schema_version")
            other.close()

        return release
    other = connect(database_url)
    other.connect()
    other.execute_sql("BEGIN")
    other.execute_sql("LOCK TABLE schema_version IN ACCESS EXCLUSIVE MODE")

    def release():
        other.execute_sql("ROLLBACK")
        other.close()

    return release


def test_readiness_is_503_with_the_reason_while_the_database_does_not_answer(
    anonymous, database_url, tmp_path
):
    release = hold_the_database(database_url, tmp_path)
    try:
        started = time.monotonic()
        answer = anonymous.get("/readyz", timeout=30)
        took = time.monotonic() - started
    finally:
        release()
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["retry-after"] == "5"
    error = answer.json()["error"]
    assert error.startswith("database not ready: "), error
    expected = "no such table" if database_url.startswith("sqlite") else "within 2 s"
    assert expected in error, error
    assert took < 10, took
    # Ready again once the database answers (the stuck check finishes first).
    deadline = time.monotonic() + 30
    while (again := anonymous.get("/readyz", timeout=30)).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.2)
    assert again.json() == {"status": "ready"}
    # Liveness never asked the database.
    assert anonymous.get("/healthz").status_code == 200


def test_the_contract_is_served_as_written_and_as_json(anonymous):
    answer = anonymous.get("/openapi.yaml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.text == SPEC_TEXT
    as_json = anonymous.get("/openapi.json")
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == json.loads(json.dumps(yaml.safe_load(SPEC_TEXT)))


def test_a_private_deployment_serves_the_contract_it_validates_with(settings):
    import dataclasses

    from starlette.testclient import TestClient

    import storage
    from kener_api import create_app

    app = create_app(dataclasses.replace(settings, public_pages=False))
    try:
        with TestClient(app) as client:
            served = yaml.safe_load(client.get("/openapi.yaml").text)
            assert "/" not in served["paths"] and "/badge/{tag}/status" not in served["paths"]
            assert "/api/status" in served["paths"] and "/healthz" in served["paths"]
            assert client.get("/openapi.json").json()["paths"].keys() == served["paths"].keys()
    finally:
        storage.close_database()


def test_probes_are_not_in_the_access_log_at_info(api, anonymous, caplog):
    with caplog.at_level(logging.INFO, logger="kener_api.access"):
        anonymous.get("/healthz")
        anonymous.get("/readyz")
        api.get("/api/status", params={"tag": "earth"})
    paths = [json.loads(record.getMessage())["path"] for record in caplog.records]
    assert paths == ["/api/status"]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kener_api.access"):
        anonymous.get("/healthz")
    assert [json.loads(r.getMessage())["path"] for r in caplog.records] == ["/healthz"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.yaml", "/openapi.json"])
def test_service_paths_refuse_other_methods(anonymous, path):
    answer = anonymous.post(path)
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "GET"


def test_the_cli_says_its_version():
    import importlib.metadata
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "kener_api.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"kener-api {importlib.metadata.version('kener-api')}"
