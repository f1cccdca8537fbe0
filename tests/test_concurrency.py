"""Many clients at once, over HTTP: incident numbers unique and gapless, comment ids unique and
in order, one data point per tag and minute holding one of the acknowledged values, and no
500 (SQLite's "database is locked" included) ever reaching a client."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import TOKEN

CLIENTS = 16


def at_once(live_server, count: int, request) -> list[httpx.Response]:
    """`request(client, i)` for i in range(count), from CLIENTS clients at a time, each with a
    connection of its own."""

    def run(i):
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client:
            return request(client, i)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(run, range(count)))
    assert [a.text for a in answers if a.status_code != 200] == []
    return answers


def test_incident_numbers_are_unique_and_gapless(live_server, api):
    answers = at_once(
        live_server,
        120,
        lambda client, i: client.post("/api/incident", json={"title": f"t{i}", "tags": ["earth"]}),
    )
    numbers = sorted(a.json()["incidentNumber"] for a in answers)
    assert numbers == list(range(1, 121))
    # Each number holds the incident its creator was answered with.
    for answer in answers:
        stored = api.get(f"/api/incident/{answer.json()['incidentNumber']}").json()
        assert stored["title"] == answer.json()["title"]


def test_comments_on_one_incident_are_unique_and_in_order(live_server, api):
    number = api.post("/api/incident", json={"title": "busy", "tags": ["earth"]}).json()[
        "incidentNumber"
    ]
    answers = at_once(
        live_server,
        120,
        lambda client, i: client.post(f"/api/incident/{number}/comment", json={"body": f"c{i}"}),
    )
    ids = [a.json()["commentID"] for a in answers]
    assert len(set(ids)) == 120
    listed = api.get(f"/api/incident/{number}/comment").json()
    # All of them, oldest first: in the order the server stored them (ids increase).
    assert [c["commentID"] for c in listed] == sorted(ids)
    assert {c["commentID"]: c["body"] for c in listed} == {
        a.json()["commentID"]: a.json()["body"] for a in answers
    }


@pytest.mark.parametrize("status", ["UP", "DOWN"])
def test_same_tag_and_minute_keeps_one_acknowledged_value(live_server, api, status):
    minute = int(live_server.settings.clock()) // 60 * 60
    at_once(
        live_server,
        96,
        lambda client, i: client.post(
            "/api/status",
            json={"status": status, "latency": i, "tag": "earth", "timestampInSeconds": minute},
        ),
    )
    state = api.get("/api/status", params={"tag": "earth"}).json()
    assert state["lastUpdatedAt"] == minute and state["status"] == status
    # One point for that minute: today's uptime counts it once.
    assert state["uptime"] == ("100" if status == "UP" else "0")


def test_mixed_writes_and_reads_never_fail(live_server, api):
    number = api.post("/api/incident", json={"title": "mixed", "tags": ["earth"]}).json()[
        "incidentNumber"
    ]
    minute = int(live_server.settings.clock()) // 60 * 60

    def request(client, i):
        match i % 6:
            case 0:
                return client.post(
                    "/api/status",
                    json={
                        "status": "UP",
                        "latency": i,
                        "tag": "google",
                        "timestampInSeconds": minute - 60 * i,
                    },
                )
            case 1:
                return client.post("/api/incident", json={"title": f"m{i}", "tags": ["google"]})
            case 2:
                return client.post(f"/api/incident/{number}/comment", json={"body": f"c{i}"})
            case 3:
                return client.post(
                    f"/api/incident/{number}/status", json={"isIdentified": i % 12 == 3}
                )
            case 4:
                return client.get("/api/incident", params={"tags": "google", "state": "open"})
            case _:
                return client.get("/api/status", params={"tag": "google"})

    at_once(live_server, 240, request)
    assert len(api.get(f"/api/incident/{number}/comment").json()) == 40
