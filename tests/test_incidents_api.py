"""The incident operations over HTTP: create, get, replace, status, comments and search."""

import pytest

from tests.conftest import START


def create(api, **fields):
    body = {"title": "Outage", "tags": ["earth"], **fields}
    answer = api.post("/api/incident", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def search(api, **params):
    answer = api.get("/api/incident", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def numbers(incidents):
    return [incident["incidentNumber"] for incident in incidents]


def test_create_answers_the_whole_incident_with_defaults(api):
    incident = create(api, title="Mumbai down", tags=["google", "earth", "google"])
    assert incident == {
        "incidentNumber": 1,
        "title": "Mumbai down",
        "body": "",
        "tags": ["google", "earth"],  # duplicates collapse, order kept
        "isMaintenance": False,
        "isIdentified": False,
        "isResolved": False,
        "createdAt": START,
        "closedAt": None,
    }
    assert api.get("/api/incident/1").json() == incident


def test_create_with_every_field(api):
    fields = {
        "title": "Maintenance",
        "body": "Upgrading the database",
        "tags": ["earth"],
        "impact": "DEGRADED",
        "startDatetime": START - 600,
        "endDatetime": START + 600,
        "isMaintenance": True,
        "isIdentified": True,
        "isResolved": True,
    }
    incident = create(api, **fields)
    assert {name: incident[name] for name in fields} == fields
    # Created resolved: closed at creation.
    assert incident["closedAt"] == incident["createdAt"] == START


def test_numbers_follow_creation_order(api):
    assert [create(api)["incidentNumber"] for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"tags": ["mars", "earth", "venus"]}, "unknown tags: mars, venus"),
        ({"tags": []}, "tags"),
        ({"title": ""}, "title"),
        ({"title": 5}, "title"),
        ({"impact": "SEVERE"}, "impact"),
        ({"isResolved": "yes"}, "isResolved"),
        ({"startDatetime": START, "endDatetime": START}, f"Invalid endDatetime {START}"),
        ({"startDatetime": START, "endDatetime": START - 1}, "Invalid endDatetime"),
        ({"startDatetime": -1}, "startDatetime"),
    ],
)
def test_invalid_incident_is_rejected_and_not_stored(api, fields, named):
    answer = api.post("/api/incident", json={"title": "Outage", "tags": ["earth"], **fields})
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert search(api) == []
    assert create(api)["incidentNumber"] == 1  # no number was used up


def test_patch_replaces_the_whole_incident(api, clock):
    original = create(
        api,
        title="Outage",
        body="details",
        tags=["earth", "google"],
        impact="DOWN",
        startDatetime=START - 60,
        endDatetime=START + 60,
        isMaintenance=True,
        isIdentified=True,
    )
    api.post("/api/incident/1/comment", json={"body": "looking"})
    clock.advance(100)
    answer = api.patch("/api/incident/1", json={"title": "Renamed", "tags": ["google"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "incidentNumber": 1,
        "title": "Renamed",
        "body": "",
        "tags": ["google"],
        "isMaintenance": False,
        "isIdentified": False,
        "isResolved": False,
        "createdAt": original["createdAt"],
        "closedAt": None,
    }
    assert api.get("/api/incident/1").json() == answer.json()
    assert [c["body"] for c in api.get("/api/incident/1/comment").json()] == ["looking"]


def test_patch_rejected_leaves_the_incident_unchanged(api):
    original = create(api, body="kept")
    for body in (
        {"title": "x", "tags": ["mars"]},
        {"title": "", "tags": ["earth"]},
        {"tags": ["earth"]},
    ):
        assert api.patch("/api/incident/1", json=body).status_code == 400
    assert api.get("/api/incident/1").json() == original


def test_closed_at_follows_is_resolved(api, clock):
    create(api)
    resolve = {"isResolved": True}
    clock.advance(60)
    assert api.post("/api/incident/1/status", json=resolve).json()["closedAt"] == START + 60
    clock.advance(60)
    # Already resolved: closedAt stays the time it became resolved.
    assert api.post("/api/incident/1/status", json=resolve).json()["closedAt"] == START + 60
    assert (
        api.patch(
            "/api/incident/1", json={"title": "Outage", "tags": ["earth"], "isResolved": True}
        ).json()["closedAt"]
        == START + 60
    )
    reopened = api.post("/api/incident/1/status", json={"isResolved": False}).json()
    assert (reopened["isResolved"], reopened["closedAt"]) == (False, None)
    clock.advance(60)
    assert api.post("/api/incident/1/status", json=resolve).json()["closedAt"] == START + 180


def test_status_update_changes_only_the_fields_given(api):
    original = create(api, impact="DOWN", startDatetime=START - 60, isIdentified=False)
    identified = api.post("/api/incident/1/status", json={"isIdentified": True}).json()
    assert identified == {**original, "isIdentified": True}
    ended = api.post("/api/incident/1/status", json={"endDatetime": START + 60}).json()
    assert ended == {**identified, "endDatetime": START + 60}
    assert api.post("/api/incident/1/status", json={}).json() == ended
    assert api.get("/api/incident/1").json() == ended


def test_status_update_keeps_end_after_start(api):
    original = create(api, startDatetime=START)
    answer = api.post("/api/incident/1/status", json={"endDatetime": START - 1})
    assert answer.status_code == 400
    assert "endDatetime" in answer.json()["error"]
    assert api.get("/api/incident/1").json() == original


def test_comments_are_kept_oldest_first_with_unique_ids(api, clock):
    create(api)
    create(api)
    posted = []
    for i in range(3):
        for number in (1, 2):
            answer = api.post(f"/api/incident/{number}/comment", json={"body": f"c{i} on {number}"})
            assert answer.status_code == 200, answer.text
            posted.append((number, answer.json()))
        clock.advance(1)
    ids = [comment["commentID"] for _, comment in posted]
    assert len(set(ids)) == len(ids)
    for number in (1, 2):
        expected = [comment for n, comment in posted if n == number]
        assert api.get(f"/api/incident/{number}/comment").json() == expected
    assert posted[0][1]["createdAt"] == START
    assert posted[-1][1]["createdAt"] == START + 2


def test_a_new_incident_has_no_comments(api):
    create(api)
    assert api.get("/api/incident/1/comment").json() == []


def test_empty_comment_is_rejected(api):
    create(api)
    for body in ({"body": ""}, {}, {"body": 3}):
        assert api.post("/api/incident/1/comment", json=body).status_code == 400
    assert api.get("/api/incident/1/comment").json() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/incident/{n}", None),
        ("PATCH", "/api/incident/{n}", {"title": "t", "tags": ["earth"]}),
        ("GET", "/api/incident/{n}/comment", None),
        ("POST", "/api/incident/{n}/comment", {"body": "hello"}),
        ("POST", "/api/incident/{n}/status", {"isResolved": True}),
    ],
)
@pytest.mark.parametrize("number", ["7", "0", "-3", "abc", "1.5", "99999999999999999999999"])
def test_unknown_or_invalid_incident_number_is_400(api, method, path, body, number):
    create(api)
    answer = api.request(method, path.format(n=number), json=body)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    message = answer.json()["error"]
    assert number in message
    if number == "7":
        assert message == "incident 7 not found"
    else:
        assert "incidentNumber" in message


def test_search_by_state(api):
    create(api)
    create(api, isResolved=True)
    create(api)
    api.post("/api/incident/3/status", json={"isResolved": True})
    assert numbers(search(api)) == [1]
    assert numbers(search(api, state="open")) == [1]
    assert numbers(search(api, state="closed")) == [3, 2]


def test_search_by_tags_matches_any(api):
    create(api, tags=["earth"])
    create(api, tags=["google"])
    create(api, tags=["google", "earth"])
    assert numbers(search(api, tags="earth")) == [3, 1]
    assert numbers(search(api, tags="google")) == [3, 2]
    assert numbers(search(api, tags="earth,google")) == [3, 2, 1]
    assert numbers(search(api, tags="earth, google")) == [3, 2, 1]


def test_search_with_unknown_tag_is_400(api):
    answer = api.get("/api/incident", params={"tags": "earth,mars"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "unknown tags: mars"}


def test_search_by_created_range_is_inclusive(api, clock):
    for _ in range(4):
        create(api)
        clock.advance(100)
    # created at START, +100, +200, +300
    assert numbers(search(api, created_after_utc=START + 100)) == [4, 3, 2]
    assert numbers(search(api, created_before_utc=START + 100)) == [2, 1]
    assert numbers(search(api, created_after_utc=START + 100, created_before_utc=START + 200)) == [
        3,
        2,
    ]
    assert search(api, created_after_utc=START + 301) == []


def test_search_by_title_is_case_insensitive_substring(api):
    create(api, title="Outage in Mumbai")
    create(api, title="Database maintenance")
    create(api, title="Éclair 100% down_now")
    assert numbers(search(api, title_like="OUTAGE")) == [1]
    assert numbers(search(api, title_like="mumb")) == [1]
    assert numbers(search(api, title_like="IN")) == [2, 1]
    assert numbers(search(api, title_like="éCLAIR")) == [3]
    assert numbers(search(api, title_like="0% d")) == [3]
    assert search(api, title_like="%") == search(api, title_like="100%")
    assert search(api, title_like="_n") == search(api, title_like="down_now")
    assert search(api, title_like="nothing like it") == []


def test_search_newest_first_and_paginated(api, clock):
    for _ in range(25):
        create(api)
        clock.advance(1)
    assert numbers(search(api)) == list(range(25, 15, -1))  # default 10 per page
    assert numbers(search(api, page=2, per_page=10)) == list(range(15, 5, -1))
    assert numbers(search(api, page=3, per_page=10)) == [5, 4, 3, 2, 1]
    assert search(api, page=4) == []
    assert numbers(search(api, per_page=100)) == list(range(25, 0, -1))
    assert numbers(search(api, per_page=1, page=25)) == [1]


def test_search_orders_same_second_by_number(api):
    for _ in range(3):
        create(api)
    assert numbers(search(api)) == [3, 2, 1]


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 0},
        {"per_page": 101},
        {"page": 0},
        {"page": "first"},
        {"state": "resolved"},
        {"created_after_utc": "yesterday"},
        {"created_before_utc": 10**30},
        {"sort": "asc"},
    ],
)
def test_search_rejects_bad_parameters(api, params):
    answer = api.get("/api/incident", params=params)
    assert answer.status_code == 400
    assert next(iter(params)) in answer.json()["error"]
