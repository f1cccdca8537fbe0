"""Incidents: create, get, replace (PATCH), comments, status updates and search.

The target may already hold many incidents (earlier runs, other clients), so every test
creates its own incidents with a unique title and restricts every search to that title
(`title_like`). The server's clock is read from the `createdAt` values it answers, and from
its `Date` header where "now" matters.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import pytest

from conformance.suite.checks import create_incident

pytestmark = pytest.mark.group("incidents")

FLAGS = ("isMaintenance", "isIdentified", "isResolved")
OPTIONAL = ("impact", "startDatetime", "endDatetime")  # absent unless set


# Helpers ---------------------------------------------------------------------------------


def create(api, **fields) -> dict:
    """Create an incident; its answer. In a test about creating, the answer is judged; in the
    others creating is their set-up, a precondition: if the target cannot create incidents
    they are blocked by that cause, reported once (conformance/preconditions.py)."""
    if "createIncident" not in (api.judged or ()):
        return create_incident(api, api.preconditions, **fields)
    answer = api.post("/api/incident", json_body=fields)
    assert answer.status_code == 200, f"create answered {answer.status_code}: {answer.text}"
    return answer.json()


def get(api, number: int) -> dict:
    answer = api.get(f"/api/incident/{number}")
    assert answer.status_code == 200, f"get answered {answer.status_code}: {answer.text}"
    return answer.json()


def search(api, **params) -> list:
    answer = api.get("/api/incident", params=params)
    assert answer.status_code == 200, f"search answered {answer.status_code}: {answer.text}"
    incidents = answer.json()
    assert isinstance(incidents, list)
    return incidents


def set_status(api, number: int, **fields) -> dict:
    answer = api.post(f"/api/incident/{number}/status", json_body=fields)
    assert answer.status_code == 200, f"status answered {answer.status_code}: {answer.text}"
    return answer.json()


def patch(api, number: int, **fields) -> dict:
    answer = api.patch(f"/api/incident/{number}", json_body=fields)
    assert answer.status_code == 200, f"PATCH answered {answer.status_code}: {answer.text}"
    return answer.json()


def comment(api, number: int, body: str) -> dict:
    answer = api.post(f"/api/incident/{number}/comment", json_body={"body": body})
    assert answer.status_code == 200, f"comment answered {answer.status_code}: {answer.text}"
    return answer.json()


def comments(api, number: int) -> list:
    answer = api.get(f"/api/incident/{number}/comment")
    assert answer.status_code == 200, f"comments answered {answer.status_code}: {answer.text}"
    return answer.json()


def numbers(incidents: list) -> list:
    return [incident["incidentNumber"] for incident in incidents]


def assert_error(answer, status: int = 400) -> None:
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}"
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body


def server_now(answer) -> tuple[float, float]:
    """The server's time when it answered and how far off a timestamp may be: its `Date`
    header (one-second resolution) when it sends one, else this machine's clock."""
    date = answer.headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp(), 5
        except (TypeError, ValueError):
            pass
    return time.time(), 60


def assert_now(timestamp, answer) -> None:
    now, slack = server_now(answer)
    assert isinstance(timestamp, int) and not isinstance(timestamp, bool), timestamp
    assert abs(timestamp - now) <= slack, f"{timestamp} is not now ({now:.0f}, +-{slack}s)"


def without(incident: dict, *names: str) -> dict:
    return {name: value for name, value in incident.items() if name not in names}


def local_now() -> int:
    """Start and end times sent to the server: near now (the server does not judge them
    against its clock)."""
    return int(time.time())


@pytest.fixture
def tag(target) -> str:
    return target.tags[0]


@pytest.fixture
def two_tags(target) -> tuple[str, str]:
    if len(target.tags) < 2:
        pytest.skip("needs at least two monitor tags (--tags)")
    return target.tags[0], target.tags[1]


def full_fields(unique: str, tags: list) -> dict:
    now = local_now()
    return {
        "title": f"{unique} full",
        "body": "Users in Mumbai cannot log in",
        "tags": tags,
        "impact": "DOWN",
        "startDatetime": now - 600,
        "endDatetime": now + 600,
        "isMaintenance": True,
        "isIdentified": True,
        "isResolved": False,
    }


# Create and get --------------------------------------------------------------------------


@pytest.mark.operation("createIncident")
def test_create_answers_incident_with_defaults(api, unique, tag):
    answer = api.post("/api/incident", json_body={"title": unique, "tags": [tag]})
    assert answer.status_code == 200, answer.text
    incident = answer.json()
    number = incident.get("incidentNumber")
    assert isinstance(number, int) and not isinstance(number, bool) and number >= 1
    assert incident["title"] == unique
    assert incident["tags"] == [tag]
    assert incident.get("body") == ""
    for flag in FLAGS:
        assert incident.get(flag) is False, f"{flag} should default to false: {incident}"
    assert_now(incident.get("createdAt"), answer)
    assert "closedAt" in incident and incident["closedAt"] is None
    for name in OPTIONAL:
        assert incident.get(name) is None, f"{name} was not given: {incident}"


@pytest.mark.operation("createIncident")
def test_create_echoes_every_field(api, unique, two_tags):
    fields = full_fields(unique, list(two_tags))
    incident = create(api, **fields)
    for name, value in fields.items():
        if name == "tags":
            assert sorted(incident["tags"]) == sorted(value)
        else:
            assert incident.get(name) == value, f"{name}: sent {value!r}, got {incident}"


@pytest.mark.operation("createIncident")
def test_create_leaves_out_absent_optional_fields(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    for name in OPTIONAL:
        assert name not in incident, f"{name} should be left out, not sent: {incident}"
    assert get(api, incident["incidentNumber"]).keys() == incident.keys()


@pytest.mark.operation("createIncident")
def test_create_resolved_is_closed_at_creation(api, unique, tag):
    incident = create(api, title=unique, tags=[tag], isResolved=True)
    assert incident["isResolved"] is True
    assert incident["closedAt"] == incident["createdAt"]
    assert numbers(search(api, title_like=unique, state="closed")) == [incident["incidentNumber"]]


@pytest.mark.operation("createIncident")
def test_create_collapses_duplicate_tags_keeping_order(api, unique, target):
    tags = list(target.tags[:2])
    sent = [*reversed(tags), *tags, tags[-1]]  # e.g. google, earth, earth, google, google
    incident = create(api, title=unique, tags=sent)
    assert incident["tags"] == list(dict.fromkeys(sent))
    assert get(api, incident["incidentNumber"])["tags"] == incident["tags"]


INVALID = ("unknown-tag", "known-and-unknown-tag", "no-tags", "empty-title", "end-before-start")


def invalid_content(change: str, unique: str, tag: str, start: int) -> dict:
    """A create or PATCH body with one thing wrong."""
    body = {"title": f"{unique} changed", "tags": [tag], "body": "changed"}
    unknown = f"{unique}-no-such-tag"
    if change == "unknown-tag":
        body["tags"] = [unknown]
    elif change == "known-and-unknown-tag":
        body["tags"] = [tag, unknown]
    elif change == "no-tags":
        body["tags"] = []
    elif change == "empty-title":
        body["title"] = ""
    else:
        assert change == "end-before-start"
        body["startDatetime"] = start
        body["endDatetime"] = start - 60
    return body


@pytest.mark.operation("createIncident")
@pytest.mark.parametrize("change", INVALID)
def test_create_invalid_is_rejected_and_not_stored(api, unique, tag, change):
    body = invalid_content(change, unique, tag, local_now())
    assert_error(api.post("/api/incident", json_body=body))
    assert search(api, title_like=unique) == []


@pytest.mark.operation("createIncident")
def test_create_end_equal_to_start_is_rejected(api, unique, tag):
    now = local_now()
    body = {"title": unique, "tags": [tag], "startDatetime": now, "endDatetime": now}
    assert_error(api.post("/api/incident", json_body=body))
    assert search(api, title_like=unique) == []


@pytest.mark.operation("getIncident")
def test_get_equals_create_answer(api, unique, two_tags):
    minimal = create(api, title=f"{unique} minimal", tags=[two_tags[0]])
    full = create(api, **full_fields(unique, list(two_tags)))
    assert get(api, minimal["incidentNumber"]) == minimal
    assert get(api, full["incidentNumber"]) == full


@pytest.mark.operation("createIncident")
def test_numbers_increase_and_are_never_reused(api, unique, tag):
    existing = set()
    for state in ("open", "closed"):
        existing |= set(numbers(search(api, state=state, per_page=100)))
    created = [create(api, title=f"{unique} {i}", tags=[tag]) for i in range(5)]
    got = numbers(created)
    assert got == sorted(set(got)), f"not strictly increasing: {got}"
    assert not existing & set(got), f"reused numbers: {sorted(existing & set(got))}"
    assert got[0] > max(existing, default=0), (
        f"{got[0]} is not above existing {max(existing, default=0)}"
    )
    for incident in created:
        assert get(api, incident["incidentNumber"])["title"] == incident["title"]


@pytest.mark.operation("createIncident")
def test_concurrent_creates_get_distinct_numbers(api, unique, tag):
    titles = [f"{unique} {i}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda title: create(api, title=title, tags=[tag]), titles))
    got = numbers(created)
    assert len(set(got)) == len(got), f"duplicate numbers: {sorted(got)}"
    for incident in created:
        assert get(api, incident["incidentNumber"])["title"] == incident["title"]
    assert sorted(numbers(search(api, title_like=unique, per_page=100))) == sorted(got)


@pytest.mark.operation(
    "updateIncident", "addIncidentComment", "getIncidentComments", "updateIncidentStatus"
)
def test_unknown_incident_is_400(api, unique, tag):
    missing = create(api, title=f"{unique} probe", tags=[tag])["incidentNumber"] + 10**9
    path = f"/api/incident/{missing}"
    assert_error(api.patch(path, json_body={"title": unique, "tags": [tag]}))
    assert_error(api.post(f"{path}/comment", json_body={"body": "hello"}))
    assert_error(api.get(f"{path}/comment"))
    assert_error(api.post(f"{path}/status", json_body={"isResolved": True}))
    # None of them created it (Kener's GET answered 404 here: only "not 200" is judged).
    assert api.get(path, validate=False).status_code != 200
    assert numbers(search(api, title_like=unique)) == [missing - 10**9]


@pytest.mark.operation("getIncident")
def test_get_unknown_incident_is_400_not_found(api, unique, tag):
    missing = create(api, title=unique, tags=[tag])["incidentNumber"] + 10**9
    answer = api.get(f"/api/incident/{missing}")
    assert_error(answer)
    message = answer.json()["error"]
    assert "not found" in message and str(missing) in message, message
    assert_error(api.get("/api/incident/0"))


# PATCH: full replacement ------------------------------------------------------------------


@pytest.mark.operation("updateIncident")
def test_patch_resets_omitted_fields_to_defaults(api, unique, two_tags):
    original = create(api, **full_fields(unique, list(two_tags)))
    number = original["incidentNumber"]
    replaced = patch(api, number, title=f"{unique} replaced", tags=[two_tags[1]])
    assert replaced["title"] == f"{unique} replaced"
    assert replaced["tags"] == [two_tags[1]]
    assert replaced["body"] == ""
    for flag in FLAGS:
        assert replaced[flag] is False, f"{flag} should be reset to false: {replaced}"
    for name in OPTIONAL:
        assert replaced.get(name) is None, f"{name} should be cleared: {replaced}"
    assert replaced["closedAt"] is None
    assert get(api, number) == replaced


@pytest.mark.operation("updateIncident")
def test_patch_sets_every_field_given(api, unique, two_tags):
    original = create(api, title=unique, tags=[two_tags[0]])
    fields = full_fields(unique, list(two_tags))
    replaced = patch(api, original["incidentNumber"], **fields)
    for name, value in fields.items():
        if name == "tags":
            assert sorted(replaced["tags"]) == sorted(value)
        else:
            assert replaced.get(name) == value, f"{name}: sent {value!r}, got {replaced}"
    assert get(api, original["incidentNumber"]) == replaced


@pytest.mark.operation("updateIncident")
def test_patch_keeps_number_created_at_and_comments(api, unique, tag):
    original = create(api, title=unique, tags=[tag], body="first")
    number = original["incidentNumber"]
    first = comment(api, number, "investigating")
    replaced = patch(api, number, title=f"{unique} renamed", tags=[tag], body="second")
    assert replaced["incidentNumber"] == number
    assert replaced["createdAt"] == original["createdAt"]
    assert [(c["commentID"], c["body"]) for c in comments(api, number)] == [
        (first["commentID"], "investigating")
    ]
    # The number still names this incident; no new incident appeared.
    assert get(api, number)["title"] == f"{unique} renamed"
    assert numbers(search(api, title_like=unique)) == [number]


@pytest.mark.operation("updateIncident")
@pytest.mark.parametrize("change", INVALID)
def test_patch_invalid_is_rejected_and_incident_unchanged(api, unique, tag, change):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    body = invalid_content(change, unique, tag, original["startDatetime"])
    assert_error(api.patch(f"/api/incident/{number}", json_body=body))
    assert get(api, number) == original


@pytest.mark.operation("updateIncident")
def test_patch_end_equal_to_start_is_rejected(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    body = {"title": unique, "tags": [tag], "startDatetime": original["startDatetime"]}
    body["endDatetime"] = body["startDatetime"]
    assert_error(api.patch(f"/api/incident/{number}", json_body=body))
    assert get(api, number) == original


@pytest.mark.operation("updateIncident")
def test_patch_leaves_out_cleared_optional_fields(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    replaced = patch(api, original["incidentNumber"], title=unique, tags=[tag])
    for name in OPTIONAL:
        assert name not in replaced, f"{name} should be left out, not sent: {replaced}"
    assert get(api, original["incidentNumber"]).keys() == replaced.keys()


@pytest.mark.operation("updateIncident")
def test_patch_closed_at_follows_is_resolved(api, unique, tag):
    original = create(api, title=unique, tags=[tag])
    number = original["incidentNumber"]
    answer = api.patch(
        f"/api/incident/{number}", json_body={"title": unique, "tags": [tag], "isResolved": True}
    )
    assert answer.status_code == 200, answer.text
    resolved = answer.json()
    assert resolved["isResolved"] is True
    assert_now(resolved["closedAt"], answer)
    assert resolved["closedAt"] >= original["createdAt"]
    assert numbers(search(api, title_like=unique, state="closed")) == [number]
    again = patch(api, number, title=unique, tags=[tag], isResolved=True, body="still resolved")
    assert again["closedAt"] == resolved["closedAt"], "already resolved: closedAt must stay"
    reopened = patch(api, number, title=unique, tags=[tag])
    assert reopened["isResolved"] is False and reopened["closedAt"] is None
    assert numbers(search(api, title_like=unique)) == [number]


# Comments --------------------------------------------------------------------------------


@pytest.mark.operation("addIncidentComment")
def test_comment_answer_echoes_body(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    body = "A fix is being deployed \u2014 d\u00e9ploiement \u2713\nsecond line"
    answer = comment(api, number, body)
    assert answer["body"] == body
    assert isinstance(answer["commentID"], int) and not isinstance(answer["commentID"], bool)


@pytest.mark.operation("getIncidentComments")
def test_new_incident_has_no_comments(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    assert comments(api, number) == []


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comments_oldest_first(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    added = [comment(api, number, f"{unique} update {i}") for i in range(4)]
    listed = comments(api, number)
    assert [(c["commentID"], c["body"]) for c in listed] == [
        (c["commentID"], c["body"]) for c in added
    ]


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comment_ids_unique_across_incidents(api, unique, tag):
    first = create(api, title=f"{unique} a", tags=[tag])["incidentNumber"]
    second = create(api, title=f"{unique} b", tags=[tag])["incidentNumber"]
    a1 = comment(api, first, "a1")
    b1 = comment(api, second, "b1")
    a2 = comment(api, first, "a2")
    ids = [a1["commentID"], b1["commentID"], a2["commentID"]]
    assert len(set(ids)) == 3, f"comment ids repeat across incidents: {ids}"
    assert [c["commentID"] for c in comments(api, first)] == [a1["commentID"], a2["commentID"]]
    assert [c["commentID"] for c in comments(api, second)] == [b1["commentID"]]


@pytest.mark.operation("addIncidentComment")
def test_empty_comment_body_is_rejected(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    assert_error(api.post(f"/api/incident/{number}/comment", json_body={"body": ""}))
    assert_error(api.post(f"/api/incident/{number}/comment", json_body={}))
    assert comments(api, number) == []


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comment_created_at_is_now_and_listed_unchanged(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    number = incident["incidentNumber"]
    answer = api.post(f"/api/incident/{number}/comment", json_body={"body": "looking"})
    assert answer.status_code == 200, answer.text
    added = answer.json()
    assert_now(added.get("createdAt"), answer)
    assert added["createdAt"] >= incident["createdAt"]
    second = comment(api, number, "fixed")
    assert comments(api, number) == [added, second]


# Status updates --------------------------------------------------------------------------


@pytest.mark.operation("updateIncidentStatus")
def test_status_update_changes_only_given_fields(api, unique, tag):
    fields = full_fields(unique, [tag])
    fields["isIdentified"] = False
    original = create(api, **fields)
    number = original["incidentNumber"]

    identified = set_status(api, number, isIdentified=True)
    assert identified == {**original, "isIdentified": True}

    new_end = original["endDatetime"] + 60
    ended = set_status(api, number, endDatetime=new_end)
    assert ended == {**identified, "endDatetime": new_end}

    resolved = set_status(api, number, isResolved=True)
    assert without(resolved, "closedAt") == without({**ended, "isResolved": True}, "closedAt")

    unidentified = set_status(api, number, isIdentified=False)
    assert unidentified == {**resolved, "isIdentified": False}
    assert get(api, number) == unidentified


@pytest.mark.operation("updateIncidentStatus")
def test_resolving_sets_closed_at(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    assert incident["closedAt"] is None
    answer = api.post(
        f"/api/incident/{incident['incidentNumber']}/status", json_body={"isResolved": True}
    )
    assert answer.status_code == 200, answer.text
    resolved = answer.json()
    assert resolved["isResolved"] is True
    assert_now(resolved["closedAt"], answer)
    assert resolved["closedAt"] >= incident["createdAt"]
    assert get(api, incident["incidentNumber"])["closedAt"] == resolved["closedAt"]


@pytest.mark.operation("updateIncidentStatus")
def test_closed_at_kept_while_resolved_cleared_on_reopen(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    first = set_status(api, number, isResolved=True)["closedAt"]
    time.sleep(1.1)  # so that "now" differs from the first closing time
    assert set_status(api, number, isResolved=True)["closedAt"] == first
    assert set_status(api, number, isIdentified=True)["closedAt"] == first
    reopened = set_status(api, number, isResolved=False)
    assert reopened["isResolved"] is False and reopened["closedAt"] is None
    assert get(api, number)["closedAt"] is None
    second = set_status(api, number, isResolved=True)["closedAt"]
    assert second > first, f"closing again must take the new time: {second} after {first}"


@pytest.mark.operation("updateIncidentStatus")
def test_status_end_not_after_start_is_rejected(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    for end in (original["startDatetime"], original["startDatetime"] - 60):
        answer = api.post(f"/api/incident/{number}/status", json_body={"endDatetime": end})
        assert_error(answer)
    assert get(api, number) == original


# Search ----------------------------------------------------------------------------------


@pytest.mark.operation("searchIncidents")
def test_search_state_open_by_default_and_closed(api, unique, tag):
    open_ = create(api, title=f"{unique} open", tags=[tag])["incidentNumber"]
    closed = create(api, title=f"{unique} closed", tags=[tag], isResolved=True)["incidentNumber"]
    assert numbers(search(api, title_like=unique)) == [open_]
    assert numbers(search(api, title_like=unique, state="open")) == [open_]
    assert numbers(search(api, title_like=unique, state="closed")) == [closed]
    set_status(api, open_, isResolved=True)
    set_status(api, closed, isResolved=False)
    assert numbers(search(api, title_like=unique, state="open")) == [closed]
    assert numbers(search(api, title_like=unique, state="closed")) == [open_]


@pytest.mark.operation("searchIncidents")
def test_search_unknown_state_is_rejected(api, unique, tag):
    create(api, title=unique, tags=[tag])
    assert_error(api.get("/api/incident", params={"state": "opened", "title_like": unique}))


@pytest.mark.operation("searchIncidents")
def test_search_tags_match_any(api, unique, target, two_tags):
    a, b = two_tags
    only_a = create(api, title=f"{unique} a", tags=[a])["incidentNumber"]
    only_b = create(api, title=f"{unique} b", tags=[b])["incidentNumber"]
    both = create(api, title=f"{unique} ab", tags=[a, b])["incidentNumber"]
    others = [
        create(api, title=f"{unique} {other}", tags=[other])["incidentNumber"]
        for other in target.tags[2:3]
    ]

    def found(tags: str) -> set:
        return set(numbers(search(api, title_like=unique, tags=tags)))

    assert found(f"{a},{b}") == {only_a, only_b, both}
    assert found(a) == {only_a, both}
    assert found(b) == {only_b, both}
    assert set(numbers(search(api, title_like=unique))) == {only_a, only_b, both, *others}


@pytest.mark.operation("searchIncidents")
def test_search_tags_ignore_spaces_around_entries(api, unique, two_tags):
    a, b = two_tags
    only_a = create(api, title=f"{unique} a", tags=[a])["incidentNumber"]
    only_b = create(api, title=f"{unique} b", tags=[b])["incidentNumber"]
    assert numbers(search(api, title_like=unique, tags=f" {a} , {b} ")) == [only_b, only_a]


@pytest.mark.operation("searchIncidents")
def test_search_unknown_tag_is_rejected(api, unique, tag):
    create(api, title=unique, tags=[tag])
    unknown = f"{unique}-no-such-tag"
    for tags in (unknown, f"{tag},{unknown}"):
        assert_error(api.get("/api/incident", params={"tags": tags, "title_like": unique}))


@pytest.mark.operation("searchIncidents")
def test_search_empty_tag_entry_is_rejected(api, unique, tag):
    create(api, title=unique, tags=[tag])
    for tags in (f"{tag},", f",{tag}", ""):
        assert_error(api.get("/api/incident", params={"tags": tags, "title_like": unique}))


@pytest.mark.operation("searchIncidents")
def test_search_created_range_is_inclusive(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    at = incident["createdAt"]
    number = incident["incidentNumber"]

    def found(**bounds) -> list:
        return numbers(search(api, title_like=unique, **bounds))

    assert found(created_after_utc=at, created_before_utc=at) == [number]
    assert found(created_after_utc=at) == [number]
    assert found(created_before_utc=at) == [number]
    assert found(created_after_utc=at - 60, created_before_utc=at + 60) == [number]
    assert found(created_after_utc=at + 1) == []
    assert found(created_before_utc=at - 1) == []


@pytest.mark.operation("searchIncidents")
def test_search_title_like_is_case_insensitive_substring(api, unique, tag):
    mumbai = create(api, title=f"Outage {unique} in Mumbai", tags=[tag])["incidentNumber"]
    delhi = create(api, title=f"Outage {unique} in Delhi", tags=[tag])["incidentNumber"]
    assert numbers(search(api, title_like=f"{unique.upper()} IN MUM")) == [mumbai]
    assert numbers(search(api, title_like=f"{unique} in delhi")) == [delhi]
    assert numbers(search(api, title_like=unique.upper())) == [delhi, mumbai]
    assert search(api, title_like=f"{unique} in Paris") == []


@pytest.mark.operation("searchIncidents")
def test_search_title_like_is_literal(api, unique, tag):
    percent = create(api, title=f"{unique} 50% a_b", tags=[tag])["incidentNumber"]
    create(api, title=f"{unique} 50x axb", tags=[tag])
    create(api, title=f"{unique} 500 ab", tags=[tag])
    assert numbers(search(api, title_like=f"{unique} 50% a_b")) == [percent]
    assert numbers(search(api, title_like=f"{unique} 50%")) == [percent]
    assert numbers(search(api, title_like=f"{unique} 5_")) == []


@pytest.mark.operation("searchIncidents")
def test_search_newest_first(api, unique, tag):
    # Titles chosen so that neither title order matches creation order.
    created = [create(api, title=f"{unique} {word}", tags=[tag]) for word in ("m", "z", "a")]
    found = search(api, title_like=unique)
    assert numbers(found) == numbers(created)[::-1]
    assert found == created[::-1]
    stamps = [incident["createdAt"] for incident in found]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.operation("searchIncidents")
def test_search_pagination(api, unique, tag):
    created = [create(api, title=f"{unique} {i}", tags=[tag]) for i in range(11)]
    newest_first = numbers(created)[::-1]

    def page(**params) -> list:
        return numbers(search(api, title_like=unique, **params))

    assert page() == newest_first[:10]  # page 1 of 10 by default
    assert page(page=2) == newest_first[10:]
    assert page(page=3) == []
    for size in (1, 3, 4):
        pages = [page(page=n, per_page=size) for n in range(1, 11 // size + 2)]
        for n, got in enumerate(pages):
            assert got == newest_first[n * size : (n + 1) * size], f"per_page={size} page={n + 1}"
    assert page(per_page=11) == newest_first
    assert page(page=1, per_page=100) == newest_first


@pytest.mark.operation("searchIncidents")
def test_search_per_page_bounds(api, unique, tag):
    created = [create(api, title=f"{unique} {i}", tags=[tag]) for i in range(2)]
    assert numbers(search(api, title_like=unique, per_page=1)) == [created[1]["incidentNumber"]]
    assert len(search(api, title_like=unique, per_page=100)) == 2
    for bad in (0, 101, -1):
        answer = api.get("/api/incident", params={"title_like": unique, "per_page": bad})
        assert_error(answer)
    assert_error(api.get("/api/incident", params={"title_like": unique, "page": 0}))
