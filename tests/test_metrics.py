"""GET /metrics: parsed with prometheus_client's own parser and checked against the traffic
the test sent; its credential rules; database errors; one registry across waitress's threads."""

import dataclasses
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import storage
from kener_api import create_app
from tests.conftest import TOKEN, serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def scrape(client: httpx.Client, headers=AUTH) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value."""
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def requests(samples, operation: str, status: str) -> float:
    key = ("kener_requests_total", (("operation", operation), ("status", status)))
    return samples.get(key, 0)


def test_metrics_count_the_traffic_sent_and_show_each_monitor(anonymous, clock):
    for status, tag in (("UP", "earth"), ("DOWN", "google")):
        pushed = anonymous.post(
            "/api/status", json={"status": status, "latency": 5, "tag": tag}, headers=AUTH
        )
        assert pushed.status_code == 200
    for _ in range(3):
        assert (
            anonymous.get("/api/status", params={"tag": "earth"}, headers=AUTH).status_code == 200
        )
    assert anonymous.post("/api/status", json={"status": "UP"}, headers=AUTH).status_code == 400
    assert anonymous.get("/api/nothing").status_code == 404
    assert anonymous.get("/api/status", params={"tag": "earth"}).status_code == 401
    clock.advance(90)
    samples = scrape(anonymous)
    assert requests(samples, "updateMonitorStatus", "200") == 2
    assert requests(samples, "updateMonitorStatus", "400") == 1
    assert requests(samples, "getMonitorStatus", "200") == 3
    assert requests(samples, "getMonitorStatus", "401") == 1
    assert requests(samples, "-", "404") == 1
    count = ("kener_request_duration_seconds_count", (("operation", "getMonitorStatus"),))
    assert samples[count] == 4
    assert samples[("kener_requests_in_flight", ())] == 1  # the scrape itself
    assert samples[("kener_database_errors_total", ())] == 0
    assert samples[("kener_monitor_status", (("tag", "earth"),))] == 1
    assert samples[("kener_monitor_status", (("tag", "google"),))] == 0
    age = samples[("kener_monitor_last_point_age_seconds", (("tag", "earth"),))]
    assert 90 <= age < 150, age  # pushed in the minute 90 s ago by the server's clock
    # The scrape is counted by the next one.
    assert requests(scrape(anonymous), "getMetrics", "200") == 1


def test_degraded_is_2(anonymous):
    body = {"status": "DEGRADED", "latency": 5, "tag": "earth"}
    assert anonymous.post("/api/status", json=body, headers=AUTH).status_code == 200
    assert scrape(anonymous)[("kener_monitor_status", (("tag", "earth"),))] == 2


def test_metrics_need_a_reading_credential(anonymous, clock):
    assert anonymous.get("/metrics").status_code == 401
    read = storage.keys.create_key("scraper", "read", int(clock.now))
    push = storage.keys.create_key("pusher", "push", int(clock.now))
    assert anonymous.get("/metrics", headers={"Authorization": f"Bearer {read}"}).status_code == 200
    refused = anonymous.get("/metrics", headers={"Authorization": f"Bearer {push}"})
    assert refused.status_code == 401 and "scope push" in refused.json()["error"]


def test_metrics_public_needs_no_credential(settings):
    app = create_app(dataclasses.replace(settings, metrics_public=True))
    try:
        with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert ("kener_requests_in_flight", ()) in scrape(client, headers={})
            # The served contract says so.
            document = client.get("/openapi.json").json()
            assert document["paths"]["/metrics"]["get"]["security"] == []
    finally:
        storage.close_database()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_database_errors_are_counted(anonymous, tmp_path):
    other = sqlite3.connect(tmp_path / "kener.db", isolation_level=None)
    other.execute("ALTER TABLE data_point RENAME TO data_point_away")
    try:
        failed = anonymous.post(
            "/api/status", json={"status": "UP", "latency": 5, "tag": "earth"}, headers=AUTH
        )
    finally:
        other.execute("ALTER TABLE data_point_away RENAME TO data_point")
        other.close()
    assert failed.status_code == 500
    samples = scrape(anonymous)
    assert samples[("kener_database_errors_total", ())] == 1
    assert requests(samples, "updateMonitorStatus", "500") == 1


def test_one_registry_across_the_servers_threads(anonymous):
    def read(_):
        return anonymous.get("/api/status", params={"tag": "earth"}, headers=AUTH).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(read, range(40))) == {200}
    assert requests(scrape(anonymous), "getMonitorStatus", "200") == 40
