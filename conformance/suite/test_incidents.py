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


class _Missing:
    """A field an answer leaves out, as `answer.get(name, MISSING)` answers it: it equals
    nothing, itself included, so that a check on the field fails as `answer[name]` did, and
    it reads `missing` in the check's message."""

    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


# Helpers ---------------------------------------------------------------------------------


def call(api, operation_id: str, send, variant: str = ""):
    """`send()`'s answer. In a test about `operation_id` a failure is the test's own; in the
    others the call is set-up, a precondition: when it fails, the test is blocked by that
    cause, reported once, and later tests needing it are blocked without asking again
    (conformance/preconditions.py). A `variant` (which fields were sent) fails on its own."""
    if operation_id in (api.judged or ()):
        return send()
    return api.preconditions.run(f"{operation_id} as set-up", send, variant=variant)


def create(api, **fields) -> dict:
    """Create an incident; its answer."""
    if "createIncident" not in (api.judged or ()):
        return create_incident(api, api.preconditions, **fields)
    answer = api.post("/api/incident", json_body=fields)
    assert answer.status_code == 200, f"create answered {answer.status_code}: {answer.text}"
    return answer.json()


def get(api, number: int) -> dict:
    def send():
        answer = api.get(f"/api/incident/{number}")
        assert answer.status_code == 200, f"get answered {answer.status_code}: {answer.text}"
        return answer.json()

    return call(api, "getIncident", send)


def search(api, **params) -> list:
    def send():
        answer = api.get("/api/incident", params=params)
        assert answer.status_code == 200, f"search answered {answer.status_code}: {answer.text}"
        incidents = answer.json()
        assert isinstance(incidents, list), (
            f"searchIncidents: answer should be a list, got {incidents!r}"
        )
        return incidents

    return call(api, "searchIncidents", send, variant="with " + ", ".join(sorted(params)))


def set_status(api, number: int, **fields) -> dict:
    def send():
        answer = api.post(f"/api/incident/{number}/status", json_body=fields)
        assert answer.status_code == 200, f"status answered {answer.status_code}: {answer.text}"
        return answer.json()

    return call(api, "updateIncidentStatus", send, variant="with " + ", ".join(sorted(fields)))


def patch(api, number: int, **fields) -> dict:
    def send():
        answer = api.patch(f"/api/incident/{number}", json_body=fields)
        assert answer.status_code == 200, f"PATCH answered {answer.status_code}: {answer.text}"
        return answer.json()

    return call(api, "updateIncident", send, variant="with " + ", ".join(sorted(fields)))


def comment(api, number: int, body: str) -> dict:
    def send():
        answer = api.post(f"/api/incident/{number}/comment", json_body={"body": body})
        assert answer.status_code == 200, f"comment answered {answer.status_code}: {answer.text}"
        return answer.json()

    return call(api, "addIncidentComment", send)


def comments(api, number: int) -> list:
    def send():
        answer = api.get(f"/api/incident/{number}/comment")
        assert answer.status_code == 200, f"comments answered {answer.status_code}: {answer.text}"
        return answer.json()

    return call(api, "getIncidentComments", send)


def numbers(incidents: list) -> list:
    return [incident["incidentNumber"] for incident in incidents]


def assert_error(answer, status: int = 400) -> None:
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}"
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), (
        f"{answer.request.method} {answer.request.url.path}: answer should be an object with "
        f"a string error, got {body!r}"
    )


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


def assert_now(timestamp, answer, what: str = "timestamp") -> None:
    """`what` names the operation and field for the messages, e.g. "createIncident: createdAt"."""
    now, slack = server_now(answer)
    assert isinstance(timestamp, int) and not isinstance(timestamp, bool), (
        f"{what} should be an integer timestamp, got {timestamp!r}"
    )
    assert abs(timestamp - now) <= slack, f"{what}: {timestamp} is not now ({now:.0f}, +-{slack}s)"


def without(incident: dict, *names: str) -> dict:
    return {name: value for name, value in incident.items() if name not in names}


def differences(expected, actual) -> str:
    """For a message: where `actual` differs from `expected`, field by field for objects
    (and item by item for lists of the same length), on one line."""
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return "; ".join(
            f"[{index}] {differences(want, got)}"
            for index, (want, got) in enumerate(zip(expected, actual, strict=True))
            if want != got
        )
    if not (isinstance(expected, dict) and isinstance(actual, dict)):
        return f"expected {expected!r}, got {actual!r}"
    names = [*expected, *(name for name in actual if name not in expected)]
    return "; ".join(
        f"{name}: expected {expected.get(name, MISSING)!r}, got {actual.get(name, MISSING)!r}"
        for name in names
        if expected.get(name, MISSING) != actual.get(name, MISSING)
    )


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
    assert answer.status_code == 200, f"createIncident answered {answer.status_code}: {answer.text}"
    incident = answer.json()
    number = incident.get("incidentNumber")
    assert isinstance(number, int) and not isinstance(number, bool) and number >= 1, (
        f"createIncident: incidentNumber should be an integer >= 1, got {number!r}"
    )
    assert incident.get("title") == unique, (
        f"createIncident: title should be {unique!r}, got {incident.get('title', MISSING)!r}"
    )
    assert incident.get("tags") == [tag], (
        f"createIncident: tags should be {[tag]!r}, got {incident.get('tags', MISSING)!r}"
    )
    assert incident.get("body") == "", (
        f"createIncident: body should default to '', got {incident.get('body', MISSING)!r}"
    )
    for flag in FLAGS:
        assert incident.get(flag) is False, f"{flag} should default to false: {incident}"
    assert_now(incident.get("createdAt", MISSING), answer, "createIncident: createdAt")
    assert incident.get("closedAt", MISSING) is None, (
        f"createIncident: closedAt should be null while open, "
        f"got {incident.get('closedAt', MISSING)!r}"
    )
    for name in OPTIONAL:
        assert incident.get(name) is None, f"{name} was not given: {incident}"


@pytest.mark.operation("createIncident")
def test_create_echoes_every_field(api, unique, two_tags):
    fields = full_fields(unique, list(two_tags))
    incident = create(api, **fields)
    for name, value in fields.items():
        if name == "tags":
            assert "tags" in incident and sorted(incident["tags"]) == sorted(value), (
                f"createIncident: tags should be {value!r} in any order, "
                f"got {incident.get('tags', MISSING)!r}"
            )
        else:
            assert incident.get(name) == value, f"{name}: sent {value!r}, got {incident}"


@pytest.mark.operation("createIncident")
def test_create_leaves_out_absent_optional_fields(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    for name in OPTIONAL:
        assert name not in incident, f"{name} should be left out, not sent: {incident}"
    stored = get(api, incident["incidentNumber"])
    assert stored.keys() == incident.keys(), (
        f"getIncident: fields should be {sorted(incident)} as created, got {sorted(stored)}"
    )


@pytest.mark.operation("createIncident")
def test_create_resolved_is_closed_at_creation(api, unique, tag):
    incident = create(api, title=unique, tags=[tag], isResolved=True)
    assert incident.get("isResolved") is True, (
        f"createIncident: isResolved should be True, got {incident.get('isResolved', MISSING)!r}"
    )
    assert incident.get("closedAt", MISSING) == incident.get("createdAt", MISSING), (
        f"createIncident: closedAt should be createdAt {incident.get('createdAt', MISSING)!r} "
        f"when created resolved, got {incident.get('closedAt', MISSING)!r}"
    )
    closed = numbers(search(api, title_like=unique, state="closed"))
    assert closed == [incident["incidentNumber"]], (
        f"searchIncidents: state=closed should find [{incident['incidentNumber']}], got {closed}"
    )


@pytest.mark.operation("createIncident")
def test_create_collapses_duplicate_tags_keeping_order(api, unique, target):
    tags = list(target.tags[:2])
    sent = [*reversed(tags), *tags, tags[-1]]  # e.g. google, earth, earth, google, google
    incident = create(api, title=unique, tags=sent)
    collapsed = list(dict.fromkeys(sent))
    assert incident.get("tags") == collapsed, (
        f"createIncident: tags {sent!r} should collapse to {collapsed!r}, "
        f"got {incident.get('tags', MISSING)!r}"
    )
    stored = get(api, incident["incidentNumber"]).get("tags", MISSING)
    assert stored == incident["tags"], (
        f"getIncident: tags should be {incident['tags']!r} as created, got {stored!r}"
    )


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
        assert change == "end-before-start", f"suite: unknown change {change!r}"
        body["startDatetime"] = start
        body["endDatetime"] = start - 60
    return body


@pytest.mark.operation("createIncident")
@pytest.mark.parametrize("change", INVALID)
def test_create_invalid_is_rejected_and_not_stored(api, unique, tag, change):
    body = invalid_content(change, unique, tag, local_now())
    assert_error(api.post("/api/incident", json_body=body))
    found = search(api, title_like=unique)
    assert found == [], (
        f"createIncident: a rejected create ({change}) should store nothing, "
        f"searchIncidents found {found!r}"
    )


@pytest.mark.operation("createIncident")
def test_create_end_equal_to_start_is_rejected(api, unique, tag):
    now = local_now()
    body = {"title": unique, "tags": [tag], "startDatetime": now, "endDatetime": now}
    assert_error(api.post("/api/incident", json_body=body))
    found = search(api, title_like=unique)
    assert found == [], (
        f"createIncident: a rejected create (end equal to start) should store nothing, "
        f"searchIncidents found {found!r}"
    )


@pytest.mark.operation("getIncident")
def test_get_equals_create_answer(api, unique, two_tags):
    minimal = create(api, title=f"{unique} minimal", tags=[two_tags[0]])
    full = create(api, **full_fields(unique, list(two_tags)))
    stored = get(api, minimal["incidentNumber"])
    assert stored == minimal, (
        f"getIncident: should answer as createIncident did, but {differences(minimal, stored)}"
    )
    stored = get(api, full["incidentNumber"])
    assert stored == full, (
        f"getIncident: should answer as createIncident did, but {differences(full, stored)}"
    )


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
        stored = get(api, incident["incidentNumber"])
        assert stored.get("title", MISSING) == incident.get("title", MISSING), (
            f"getIncident: title should be {incident.get('title', MISSING)!r} as created, "
            f"got {stored.get('title', MISSING)!r}"
        )


@pytest.mark.operation("createIncident")
def test_concurrent_creates_get_distinct_numbers(api, unique, tag):
    titles = [f"{unique} {i}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda title: create(api, title=title, tags=[tag]), titles))
    got = numbers(created)
    assert len(set(got)) == len(got), f"duplicate numbers: {sorted(got)}"
    for incident in created:
        stored = get(api, incident["incidentNumber"])
        assert stored.get("title", MISSING) == incident.get("title", MISSING), (
            f"getIncident: title should be {incident.get('title', MISSING)!r} as created, "
            f"got {stored.get('title', MISSING)!r}"
        )
    found = sorted(numbers(search(api, title_like=unique, per_page=100)))
    assert found == sorted(got), f"searchIncidents: should find {sorted(got)}, got {found}"


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
    status = api.get(path, validate=False).status_code
    assert status != 200, f"getIncident: {missing} should not exist after these calls, got {status}"
    found = numbers(search(api, title_like=unique))
    assert found == [missing - 10**9], (
        f"searchIncidents: should find only [{missing - 10**9}], got {found}"
    )


@pytest.mark.operation("getIncident")
def test_get_unknown_incident_is_400_not_found(api, unique, tag):
    missing = create(api, title=unique, tags=[tag])["incidentNumber"] + 10**9
    answer = api.get(f"/api/incident/{missing}")
    assert_error(answer)
    message = answer.json()["error"]
    assert "not found" in message and str(missing) in message, (
        f"getIncident: error should say 'not found' and {missing}, got {message!r}"
    )
    assert_error(api.get("/api/incident/0"))


# PATCH: full replacement ------------------------------------------------------------------


@pytest.mark.operation("updateIncident")
def test_patch_resets_omitted_fields_to_defaults(api, unique, two_tags):
    original = create(api, **full_fields(unique, list(two_tags)))
    number = original["incidentNumber"]
    title = f"{unique} replaced"
    replaced = patch(api, number, title=title, tags=[two_tags[1]])
    assert replaced.get("title") == title, (
        f"updateIncident: title should be {title!r}, got {replaced.get('title', MISSING)!r}"
    )
    assert replaced.get("tags") == [two_tags[1]], (
        f"updateIncident: tags should be {[two_tags[1]]!r}, got {replaced.get('tags', MISSING)!r}"
    )
    assert replaced.get("body") == "", (
        f"updateIncident: body should be reset to '', got {replaced.get('body', MISSING)!r}"
    )
    for flag in FLAGS:
        assert replaced.get(flag) is False, f"{flag} should be reset to false: {replaced}"
    for name in OPTIONAL:
        assert replaced.get(name) is None, f"{name} should be cleared: {replaced}"
    assert replaced.get("closedAt", MISSING) is None, (
        f"updateIncident: closedAt should be reset to null, "
        f"got {replaced.get('closedAt', MISSING)!r}"
    )
    stored = get(api, number)
    assert stored == replaced, (
        f"getIncident: should answer as PATCH did, but {differences(replaced, stored)}"
    )


@pytest.mark.operation("updateIncident")
def test_patch_sets_every_field_given(api, unique, two_tags):
    original = create(api, title=unique, tags=[two_tags[0]])
    fields = full_fields(unique, list(two_tags))
    replaced = patch(api, original["incidentNumber"], **fields)
    for name, value in fields.items():
        if name == "tags":
            assert "tags" in replaced and sorted(replaced["tags"]) == sorted(value), (
                f"updateIncident: tags should be {value!r} in any order, "
                f"got {replaced.get('tags', MISSING)!r}"
            )
        else:
            assert replaced.get(name) == value, f"{name}: sent {value!r}, got {replaced}"
    stored = get(api, original["incidentNumber"])
    assert stored == replaced, (
        f"getIncident: should answer as PATCH did, but {differences(replaced, stored)}"
    )


@pytest.mark.operation("updateIncident")
def test_patch_keeps_number_created_at_and_comments(api, unique, tag):
    original = create(api, title=unique, tags=[tag], body="first")
    number = original["incidentNumber"]
    first = comment(api, number, "investigating")
    renamed = f"{unique} renamed"
    replaced = patch(api, number, title=renamed, tags=[tag], body="second")
    assert replaced.get("incidentNumber") == number, (
        f"updateIncident: incidentNumber should stay {number}, "
        f"got {replaced.get('incidentNumber', MISSING)!r}"
    )
    assert replaced.get("createdAt", MISSING) == original.get("createdAt", MISSING), (
        f"updateIncident: createdAt should stay {original.get('createdAt', MISSING)!r}, "
        f"got {replaced.get('createdAt', MISSING)!r}"
    )
    listed = [(c.get("commentID", MISSING), c.get("body", MISSING)) for c in comments(api, number)]
    assert "commentID" in first, f"addIncidentComment: answer should have a commentID: {first!r}"
    kept = [(first["commentID"], "investigating")]
    assert listed == kept, (
        f"getIncidentComments: PATCH should keep the comments {kept!r}, got {listed!r}"
    )
    # The number still names this incident; no new incident appeared.
    title = get(api, number).get("title", MISSING)
    assert title == renamed, f"getIncident: title should be {renamed!r}, got {title!r}"
    found = numbers(search(api, title_like=unique))
    assert found == [number], f"searchIncidents: should find only [{number}], got {found}"


@pytest.mark.operation("updateIncident")
@pytest.mark.parametrize("change", INVALID)
def test_patch_invalid_is_rejected_and_incident_unchanged(api, unique, tag, change):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    body = invalid_content(change, unique, tag, original["startDatetime"])
    assert_error(api.patch(f"/api/incident/{number}", json_body=body))
    stored = get(api, number)
    assert stored == original, (
        f"updateIncident: a rejected PATCH ({change}) should change nothing, "
        f"but getIncident: {differences(original, stored)}"
    )


@pytest.mark.operation("updateIncident")
def test_patch_end_equal_to_start_is_rejected(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    body = {"title": unique, "tags": [tag], "startDatetime": original["startDatetime"]}
    body["endDatetime"] = body["startDatetime"]
    assert_error(api.patch(f"/api/incident/{number}", json_body=body))
    stored = get(api, number)
    assert stored == original, (
        f"updateIncident: a rejected PATCH (end equal to start) should change nothing, "
        f"but getIncident: {differences(original, stored)}"
    )


@pytest.mark.operation("updateIncident")
def test_patch_leaves_out_cleared_optional_fields(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    replaced = patch(api, original["incidentNumber"], title=unique, tags=[tag])
    for name in OPTIONAL:
        assert name not in replaced, f"{name} should be left out, not sent: {replaced}"
    stored = get(api, original["incidentNumber"])
    assert stored.keys() == replaced.keys(), (
        f"getIncident: fields should be {sorted(replaced)} as PATCH answered, got {sorted(stored)}"
    )


@pytest.mark.operation("updateIncident")
def test_patch_closed_at_follows_is_resolved(api, unique, tag):
    original = create(api, title=unique, tags=[tag])
    number = original["incidentNumber"]
    answer = api.patch(
        f"/api/incident/{number}", json_body={"title": unique, "tags": [tag], "isResolved": True}
    )
    assert answer.status_code == 200, f"updateIncident answered {answer.status_code}: {answer.text}"
    resolved = answer.json()
    assert resolved.get("isResolved") is True, (
        f"updateIncident: isResolved should be True, got {resolved.get('isResolved', MISSING)!r}"
    )
    assert_now(resolved.get("closedAt", MISSING), answer, "updateIncident: closedAt")
    assert "createdAt" in original and resolved["closedAt"] >= original["createdAt"], (
        f"updateIncident: closedAt {resolved['closedAt']} should not be before createdAt "
        f"{original.get('createdAt', MISSING)!r}"
    )
    closed = numbers(search(api, title_like=unique, state="closed"))
    assert closed == [number], f"searchIncidents: state=closed should find [{number}], got {closed}"
    again = patch(api, number, title=unique, tags=[tag], isResolved=True, body="still resolved")
    assert again.get("closedAt", MISSING) == resolved["closedAt"], (
        f"updateIncident: already resolved, closedAt should stay {resolved['closedAt']}, "
        f"got {again.get('closedAt', MISSING)!r}"
    )
    reopened = patch(api, number, title=unique, tags=[tag])
    assert reopened.get("isResolved") is False and reopened.get("closedAt", MISSING) is None, (
        f"updateIncident: reopened should have isResolved False and closedAt null, got "
        f"{reopened.get('isResolved', MISSING)!r} and {reopened.get('closedAt', MISSING)!r}"
    )
    found = numbers(search(api, title_like=unique))
    assert found == [number], (
        f"searchIncidents: open by default should find [{number}], got {found}"
    )


# Comments --------------------------------------------------------------------------------


@pytest.mark.operation("addIncidentComment")
def test_comment_answer_echoes_body(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    body = "A fix is being deployed \u2014 d\u00e9ploiement \u2713\nsecond line"
    answer = comment(api, number, body)
    assert answer.get("body") == body, (
        f"addIncidentComment: body should be {body!r}, got {answer.get('body', MISSING)!r}"
    )
    comment_id = answer.get("commentID", MISSING)
    assert isinstance(comment_id, int) and not isinstance(comment_id, bool), (
        f"addIncidentComment: commentID should be an integer, got {comment_id!r}"
    )


@pytest.mark.operation("getIncidentComments")
def test_new_incident_has_no_comments(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    listed = comments(api, number)
    assert listed == [], f"getIncidentComments: a new incident should have none, got {listed!r}"


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comments_oldest_first(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    added = [comment(api, number, f"{unique} update {i}") for i in range(4)]
    listed = comments(api, number)
    got = [(c.get("commentID", MISSING), c.get("body", MISSING)) for c in listed]
    assert all("commentID" in c and "body" in c for c in added), (
        f"addIncidentComment: answers should have a commentID and a body: {added!r}"
    )
    expected = [(c["commentID"], c["body"]) for c in added]
    assert got == expected, (
        f"getIncidentComments: should list (commentID, body) oldest first, "
        f"but {differences(expected, got)}"
    )


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comment_ids_unique_across_incidents(api, unique, tag):
    first = create(api, title=f"{unique} a", tags=[tag])["incidentNumber"]
    second = create(api, title=f"{unique} b", tags=[tag])["incidentNumber"]
    a1 = comment(api, first, "a1")
    b1 = comment(api, second, "b1")
    a2 = comment(api, first, "a2")
    ids = [a1["commentID"], b1["commentID"], a2["commentID"]]
    assert len(set(ids)) == 3, f"comment ids repeat across incidents: {ids}"
    listed = [c.get("commentID", MISSING) for c in comments(api, first)]
    assert listed == [a1["commentID"], a2["commentID"]], (
        f"getIncidentComments: incident {first} should list commentIDs "
        f"{[a1['commentID'], a2['commentID']]}, got {listed}"
    )
    listed = [c.get("commentID", MISSING) for c in comments(api, second)]
    assert listed == [b1["commentID"]], (
        f"getIncidentComments: incident {second} should list commentIDs "
        f"{[b1['commentID']]}, got {listed}"
    )


@pytest.mark.operation("addIncidentComment")
def test_empty_comment_body_is_rejected(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    assert_error(api.post(f"/api/incident/{number}/comment", json_body={"body": ""}))
    assert_error(api.post(f"/api/incident/{number}/comment", json_body={}))
    listed = comments(api, number)
    assert listed == [], (
        f"addIncidentComment: a rejected comment should not be stored, "
        f"getIncidentComments got {listed!r}"
    )


@pytest.mark.operation("addIncidentComment", "getIncidentComments")
def test_comment_created_at_is_now_and_listed_unchanged(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    number = incident["incidentNumber"]
    answer = api.post(f"/api/incident/{number}/comment", json_body={"body": "looking"})
    assert answer.status_code == 200, (
        f"addIncidentComment answered {answer.status_code}: {answer.text}"
    )
    added = answer.json()
    assert_now(added.get("createdAt", MISSING), answer, "addIncidentComment: createdAt")
    assert "createdAt" in incident and added["createdAt"] >= incident["createdAt"], (
        f"addIncidentComment: createdAt {added['createdAt']} should not be before the "
        f"incident's createdAt {incident.get('createdAt', MISSING)!r}"
    )
    second = comment(api, number, "fixed")
    listed = comments(api, number)
    assert listed == [added, second], (
        f"getIncidentComments: should list the comments as added, "
        f"but {differences([added, second], listed)}"
    )


# Status updates --------------------------------------------------------------------------


@pytest.mark.operation("updateIncidentStatus")
def test_status_update_changes_only_given_fields(api, unique, tag):
    fields = full_fields(unique, [tag])
    fields["isIdentified"] = False
    original = create(api, **fields)
    number = original["incidentNumber"]

    identified = set_status(api, number, isIdentified=True)
    expected = {**original, "isIdentified": True}
    assert identified == expected, (
        f"updateIncidentStatus: isIdentified=true should change only isIdentified, "
        f"but {differences(expected, identified)}"
    )

    new_end = original["endDatetime"] + 60
    ended = set_status(api, number, endDatetime=new_end)
    expected = {**identified, "endDatetime": new_end}
    assert ended == expected, (
        f"updateIncidentStatus: endDatetime={new_end} should change only endDatetime, "
        f"but {differences(expected, ended)}"
    )

    resolved = set_status(api, number, isResolved=True)
    expected = without({**ended, "isResolved": True}, "closedAt")
    assert without(resolved, "closedAt") == expected, (
        f"updateIncidentStatus: isResolved=true should change only isResolved and closedAt, "
        f"but {differences(expected, without(resolved, 'closedAt'))}"
    )

    unidentified = set_status(api, number, isIdentified=False)
    expected = {**resolved, "isIdentified": False}
    assert unidentified == expected, (
        f"updateIncidentStatus: isIdentified=false should change only isIdentified, "
        f"but {differences(expected, unidentified)}"
    )
    stored = get(api, number)
    assert stored == unidentified, (
        f"getIncident: should answer as updateIncidentStatus did, "
        f"but {differences(unidentified, stored)}"
    )


@pytest.mark.operation("updateIncidentStatus")
def test_resolving_sets_closed_at(api, unique, tag):
    incident = create(api, title=unique, tags=[tag])
    assert incident.get("closedAt", MISSING) is None, (
        f"createIncident: closedAt should be null while open, "
        f"got {incident.get('closedAt', MISSING)!r}"
    )
    answer = api.post(
        f"/api/incident/{incident['incidentNumber']}/status", json_body={"isResolved": True}
    )
    assert answer.status_code == 200, (
        f"updateIncidentStatus answered {answer.status_code}: {answer.text}"
    )
    resolved = answer.json()
    assert resolved.get("isResolved") is True, (
        f"updateIncidentStatus: isResolved should be True, "
        f"got {resolved.get('isResolved', MISSING)!r}"
    )
    assert_now(resolved.get("closedAt", MISSING), answer, "updateIncidentStatus: closedAt")
    assert "createdAt" in incident and resolved["closedAt"] >= incident["createdAt"], (
        f"updateIncidentStatus: closedAt {resolved['closedAt']} should not be before "
        f"createdAt {incident.get('createdAt', MISSING)!r}"
    )
    stored = get(api, incident["incidentNumber"]).get("closedAt", MISSING)
    assert stored == resolved["closedAt"], (
        f"getIncident: closedAt should be {resolved['closedAt']} as resolved, got {stored!r}"
    )


@pytest.mark.operation("updateIncidentStatus")
def test_closed_at_kept_while_resolved_cleared_on_reopen(api, unique, tag):
    number = create(api, title=unique, tags=[tag])["incidentNumber"]
    first = set_status(api, number, isResolved=True)["closedAt"]
    time.sleep(1.1)  # so that "now" differs from the first closing time
    kept = set_status(api, number, isResolved=True).get("closedAt", MISSING)
    assert kept == first, (
        f"updateIncidentStatus: resolving again should keep closedAt {first!r}, got {kept!r}"
    )
    kept = set_status(api, number, isIdentified=True).get("closedAt", MISSING)
    assert kept == first, (
        f"updateIncidentStatus: isIdentified=true should keep closedAt {first!r}, got {kept!r}"
    )
    reopened = set_status(api, number, isResolved=False)
    assert reopened.get("isResolved") is False and reopened.get("closedAt", MISSING) is None, (
        f"updateIncidentStatus: isResolved=false should give isResolved False and closedAt "
        f"null, got {reopened.get('isResolved', MISSING)!r} and "
        f"{reopened.get('closedAt', MISSING)!r}"
    )
    stored = get(api, number).get("closedAt", MISSING)
    assert stored is None, f"getIncident: closedAt should be null after reopening, got {stored!r}"
    second = set_status(api, number, isResolved=True)["closedAt"]
    assert second > first, f"closing again must take the new time: {second} after {first}"


@pytest.mark.operation("updateIncidentStatus")
def test_status_end_not_after_start_is_rejected(api, unique, tag):
    original = create(api, **full_fields(unique, [tag]))
    number = original["incidentNumber"]
    for end in (original["startDatetime"], original["startDatetime"] - 60):
        answer = api.post(f"/api/incident/{number}/status", json_body={"endDatetime": end})
        assert_error(answer)
    stored = get(api, number)
    assert stored == original, (
        f"updateIncidentStatus: a rejected endDatetime should change nothing, "
        f"but getIncident: {differences(original, stored)}"
    )


# Search ----------------------------------------------------------------------------------


@pytest.mark.operation("searchIncidents")
def test_search_state_open_by_default_and_closed(api, unique, tag):
    open_ = create(api, title=f"{unique} open", tags=[tag])["incidentNumber"]
    closed = create(api, title=f"{unique} closed", tags=[tag], isResolved=True)["incidentNumber"]
    found = numbers(search(api, title_like=unique))
    assert found == [open_], f"searchIncidents: open by default should find [{open_}], got {found}"
    found = numbers(search(api, title_like=unique, state="open"))
    assert found == [open_], f"searchIncidents: state=open should find [{open_}], got {found}"
    found = numbers(search(api, title_like=unique, state="closed"))
    assert found == [closed], f"searchIncidents: state=closed should find [{closed}], got {found}"
    set_status(api, open_, isResolved=True)
    set_status(api, closed, isResolved=False)
    found = numbers(search(api, title_like=unique, state="open"))
    assert found == [closed], (
        f"searchIncidents: state=open should find reopened [{closed}], got {found}"
    )
    found = numbers(search(api, title_like=unique, state="closed"))
    assert found == [open_], (
        f"searchIncidents: state=closed should find resolved [{open_}], got {found}"
    )


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

    got = found(f"{a},{b}")
    assert got == {only_a, only_b, both}, (
        f"searchIncidents: tags={a},{b} should find {sorted({only_a, only_b, both})}, got {got}"
    )
    got = found(a)
    assert got == {only_a, both}, (
        f"searchIncidents: tags={a} should find {sorted({only_a, both})}, got {got}"
    )
    got = found(b)
    assert got == {only_b, both}, (
        f"searchIncidents: tags={b} should find {sorted({only_b, both})}, got {got}"
    )
    got = set(numbers(search(api, title_like=unique)))
    assert got == {only_a, only_b, both, *others}, (
        f"searchIncidents: no tags should find {sorted({only_a, only_b, both, *others})}, got {got}"
    )


@pytest.mark.operation("searchIncidents")
def test_search_tags_ignore_spaces_around_entries(api, unique, two_tags):
    a, b = two_tags
    only_a = create(api, title=f"{unique} a", tags=[a])["incidentNumber"]
    only_b = create(api, title=f"{unique} b", tags=[b])["incidentNumber"]
    spaced = f" {a} , {b} "
    found = numbers(search(api, title_like=unique, tags=spaced))
    assert found == [only_b, only_a], (
        f"searchIncidents: tags={spaced!r} should find {[only_b, only_a]}, got {found}"
    )


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

    got = found(created_after_utc=at, created_before_utc=at)
    assert got == [number], (
        f"searchIncidents: created_after_utc={at}&created_before_utc={at} should find "
        f"[{number}], got {got}"
    )
    got = found(created_after_utc=at)
    assert got == [number], (
        f"searchIncidents: created_after_utc={at} should find [{number}], got {got}"
    )
    got = found(created_before_utc=at)
    assert got == [number], (
        f"searchIncidents: created_before_utc={at} should find [{number}], got {got}"
    )
    got = found(created_after_utc=at - 60, created_before_utc=at + 60)
    assert got == [number], (
        f"searchIncidents: created_after_utc={at - 60}&created_before_utc={at + 60} should "
        f"find [{number}], got {got}"
    )
    got = found(created_after_utc=at + 1)
    assert got == [], f"searchIncidents: created_after_utc={at + 1} should find [], got {got}"
    got = found(created_before_utc=at - 1)
    assert got == [], f"searchIncidents: created_before_utc={at - 1} should find [], got {got}"


@pytest.mark.operation("searchIncidents")
def test_search_title_like_is_case_insensitive_substring(api, unique, tag):
    mumbai = create(api, title=f"Outage {unique} in Mumbai", tags=[tag])["incidentNumber"]
    delhi = create(api, title=f"Outage {unique} in Delhi", tags=[tag])["incidentNumber"]
    found = numbers(search(api, title_like=f"{unique.upper()} IN MUM"))
    assert found == [mumbai], (
        f"searchIncidents: title_like '{unique.upper()} IN MUM' should find [{mumbai}], got {found}"
    )
    found = numbers(search(api, title_like=f"{unique} in delhi"))
    assert found == [delhi], (
        f"searchIncidents: title_like '{unique} in delhi' should find [{delhi}], got {found}"
    )
    found = numbers(search(api, title_like=unique.upper()))
    assert found == [delhi, mumbai], (
        f"searchIncidents: title_like '{unique.upper()}' should find {[delhi, mumbai]}, got {found}"
    )
    paris = search(api, title_like=f"{unique} in Paris")
    assert paris == [], (
        f"searchIncidents: title_like '{unique} in Paris' should find [], got {paris!r}"
    )


@pytest.mark.operation("searchIncidents")
def test_search_title_like_is_literal(api, unique, tag):
    percent = create(api, title=f"{unique} 50% a_b", tags=[tag])["incidentNumber"]
    create(api, title=f"{unique} 50x axb", tags=[tag])
    create(api, title=f"{unique} 500 ab", tags=[tag])
    found = numbers(search(api, title_like=f"{unique} 50% a_b"))
    assert found == [percent], (
        f"searchIncidents: title_like '{unique} 50% a_b' should find [{percent}], got {found}"
    )
    found = numbers(search(api, title_like=f"{unique} 50%"))
    assert found == [percent], (
        f"searchIncidents: title_like '{unique} 50%' should find [{percent}], got {found}"
    )
    found = numbers(search(api, title_like=f"{unique} 5_"))
    assert found == [], f"searchIncidents: title_like '{unique} 5_' should find [], got {found}"


@pytest.mark.operation("searchIncidents")
def test_search_newest_first(api, unique, tag):
    # Titles chosen so that neither title order matches creation order.
    created = [create(api, title=f"{unique} {word}", tags=[tag]) for word in ("m", "z", "a")]
    found = search(api, title_like=unique)
    assert numbers(found) == numbers(created)[::-1], (
        f"searchIncidents: should find {numbers(created)[::-1]} newest first, got {numbers(found)}"
    )
    assert found == created[::-1], (
        f"searchIncidents: should answer the incidents as createIncident did, "
        f"but {differences(created[::-1], found)}"
    )
    stamps = [incident["createdAt"] for incident in found]
    assert stamps == sorted(stamps, reverse=True), (
        f"searchIncidents: createdAt should be newest first, got {stamps}"
    )


@pytest.mark.operation("searchIncidents")
def test_search_pagination(api, unique, tag):
    created = [create(api, title=f"{unique} {i}", tags=[tag]) for i in range(11)]
    newest_first = numbers(created)[::-1]

    def page(**params) -> list:
        return numbers(search(api, title_like=unique, **params))

    got = page()
    assert got == newest_first[:10], (  # page 1 of 10 by default
        f"searchIncidents: default page should be {newest_first[:10]}, got {got}"
    )
    got = page(page=2)
    assert got == newest_first[10:], (
        f"searchIncidents: page=2 should be {newest_first[10:]}, got {got}"
    )
    got = page(page=3)
    assert got == [], f"searchIncidents: page=3 should be [], got {got}"
    for size in (1, 3, 4):
        pages = [page(page=n, per_page=size) for n in range(1, 11 // size + 2)]
        for n, got in enumerate(pages):
            expected = newest_first[n * size : (n + 1) * size]
            assert got == expected, (
                f"searchIncidents: per_page={size} page={n + 1} should be {expected}, got {got}"
            )
    got = page(per_page=11)
    assert got == newest_first, f"searchIncidents: per_page=11 should be {newest_first}, got {got}"
    got = page(page=1, per_page=100)
    assert got == newest_first, (
        f"searchIncidents: page=1 per_page=100 should be {newest_first}, got {got}"
    )


@pytest.mark.operation("searchIncidents")
def test_search_per_page_bounds(api, unique, tag):
    created = [create(api, title=f"{unique} {i}", tags=[tag]) for i in range(2)]
    newest = created[1]["incidentNumber"]
    found = numbers(search(api, title_like=unique, per_page=1))
    assert found == [newest], f"searchIncidents: per_page=1 should be [{newest}], got {found}"
    found = search(api, title_like=unique, per_page=100)
    assert len(found) == 2, (
        f"searchIncidents: per_page=100 should find 2 incidents, got {len(found)}"
    )
    for bad in (0, 101, -1):
        answer = api.get("/api/incident", params={"title_like": unique, "per_page": bad})
        assert_error(answer)
    assert_error(api.get("/api/incident", params={"title_like": unique, "page": 0}))
