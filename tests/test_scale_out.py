"""Several server processes on one database behave as one server: what the README promises for
running instances side by side behind a load balancer. Each test starts two real `kener-api
serve` processes on the same database (SQLite file, or PostgreSQL) and drives both at once."""

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import TOKEN, serve_processes


@pytest.fixture
def two_servers(database_url, tmp_path):
    with serve_processes(
        database_url, tmp_path, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as clients:
        yield clients


def _each_on_alternate_servers(clients, count: int, request) -> list[httpx.Response]:
    """`request(client, i)` for i in range(count), spread over both servers, 16 at a time."""
    servers = itertools.cycle(clients)
    jobs = [(next(servers), i) for i in range(count)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda job: request(*job), jobs))


def test_incident_numbers_are_unique_and_gapless_across_processes(two_servers):
    answers = _each_on_alternate_servers(
        two_servers,
        60,
        lambda client, i: client.post("/api/incident", json={"title": f"i{i}", "tags": ["earth"]}),
    )
    assert [a.status_code for a in answers] == [200] * 60, [a.text for a in answers]
    numbers = sorted(a.json()["incidentNumber"] for a in answers)
    assert numbers == list(range(numbers[0], numbers[0] + 60))
    # Each process sees what the other wrote.
    for client in two_servers:
        found = client.get("/api/incident", params={"per_page": 100})
        assert found.status_code == 200
        assert sorted(i["incidentNumber"] for i in found.json()) == numbers


def test_comments_from_both_processes_are_all_kept_in_order(two_servers):
    number = (
        two_servers[0]
        .post("/api/incident", json={"title": "x", "tags": ["earth"]})
        .json()["incidentNumber"]
    )
    answers = _each_on_alternate_servers(
        two_servers,
        40,
        lambda client, i: client.post(f"/api/incident/{number}/comment", json={"body": f"c{i}"}),
    )
    assert [a.status_code for a in answers] == [200] * 40
    ids = [a.json()["commentID"] for a in answers]
    assert len(set(ids)) == 40
    for client in two_servers:
        listed = client.get(f"/api/incident/{number}/comment").json()
        assert [c["commentID"] for c in listed] == sorted(ids)
        assert sorted(c["body"] for c in listed) == sorted(f"c{i}" for i in range(40))


def test_pushes_to_one_minute_from_both_processes_leave_one_acknowledged_point(two_servers):
    minute = int(time.time()) // 60 * 60 - 120
    statuses = ["UP", "DOWN", "DEGRADED"]

    def push(client, i):
        return client.post(
            "/api/status",
            json={
                "status": statuses[i % 3],
                "latency": i,
                "tag": "earth",
                "timestampInSeconds": minute + i % 60,
            },
        )

    answers = _each_on_alternate_servers(two_servers, 30, push)
    assert [a.status_code for a in answers] == [200] * 30
    for client in two_servers:
        state = client.get("/api/status", params={"tag": "earth"}).json()
        assert state["lastUpdatedAt"] == minute
        assert state["status"] in statuses
        # One point for the minute, whichever write came last: uptime is all or nothing
        # (nothing yet today when the minute was yesterday's, just after midnight UTC).
        today = int(time.time()) // 86_400 * 86_400
        assert state["uptime"] in (("100", "0") if minute >= today else ("-",))
