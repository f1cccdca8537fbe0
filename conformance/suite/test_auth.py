"""Authentication: every operation needs `Authorization: Bearer <token>`.

A missing header, a wrong token, a bare token without the `Bearer ` scheme and another scheme
(`Basic`, `Token`) are each answered 401 with `application/json` `{"error": "<message>"}` on
every one of the nine operations, and a refused write changes nothing. The right token is
accepted on every operation. Kener 2.0's spec declares `bearerAuth` (HTTP bearer) on every
operation, so these are rules of both profiles, although Kener's own server took a bare token.

Only the `strict` profile requires that the credentials are judged before the body is read
(an unauthenticated, malformed body is 401, not 400), and that the scheme name is
case-insensitive (`bearer <token>`): Kener's spec says nothing about either. In the
`kener-2.0` profile an unauthenticated malformed body may be 400 or 401, never a 5xx (Kener's
server answered 500).
"""

import base64
import uuid

import pytest

from conformance.suite.checks import OPERATIONS, WRITES, assert_json_error

pytestmark = pytest.mark.group("auth")


def each(operations):
    return [
        pytest.param(operation, marks=pytest.mark.operation(operation), id=operation)
        for operation in operations
    ]


def valid_request(operation: str, target, number: int, title: str) -> dict:
    """Keyword arguments of KenerClient.request for a valid call of `operation`."""
    method, path = OPERATIONS[operation]
    tag = target.tags[0]
    bodies = {
        "updateMonitorStatus": {"status": "UP", "latency": 10, "tag": tag},
        "createIncident": {"title": title, "tags": [tag], "isResolved": True},
        "updateIncident": {"title": title, "tags": [tag], "isResolved": True},
        "addIncidentComment": {"body": "conformance: auth"},
        "updateIncidentStatus": {"isIdentified": True},
    }
    params = {"getMonitorStatus": {"tag": tag}, "searchIncidents": {"title_like": title}}
    return {
        "method": method,
        "path": path.format(n=number),
        "json_body": bodies.get(operation),
        "params": params.get(operation),
    }


def incident_number(operation: str, shared_incident) -> int:
    """The shared incident's number for the operations on an incident; for the others none
    is created (a target that cannot create incidents still has its auth judged)."""
    return shared_incident.number if "{n}" in OPERATIONS[operation][1] else 1


def refused(anonymous, request: dict, authorization: str | None, sent: str) -> None:
    """Send `request` with this Authorization header (None: none) and expect a JSON 401."""
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = anonymous.request(**request, headers=headers, validate=False)
    assert_json_error(answer, (401,), sent)
    anonymous.validator.check(anonymous.exchanges[-1])


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_missing_authorization_is_401(anonymous, target, unique, operation):
    request = valid_request(operation, target, 1, unique)
    refused(anonymous, request, None, f"{operation} without an Authorization header")


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_wrong_token_is_401(anonymous, target, unique, operation):
    request = valid_request(operation, target, 1, unique)
    token = target.token
    wrongs = (f"{token}x", f"x{token}", token[:-1], token.swapcase(), "0" * len(token))
    for wrong in dict.fromkeys(wrong for wrong in wrongs if wrong and wrong != token):
        refused(anonymous, request, f"Bearer {wrong}", f"{operation} with a wrong bearer token")
    refused(anonymous, request, "Bearer", f"{operation} with 'Bearer' and no token")


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_bare_token_is_401(anonymous, target, unique, operation):
    request = valid_request(operation, target, 1, unique)
    refused(anonymous, request, target.token, f"{operation} with the right token but no 'Bearer '")


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_other_scheme_is_401(anonymous, target, unique, operation):
    request = valid_request(operation, target, 1, unique)
    basic = base64.b64encode(f"kener:{target.token}".encode()).decode()
    for authorization in (f"Basic {basic}", f"Basic {target.token}", f"Token {target.token}"):
        scheme = authorization.split()[0]
        refused(anonymous, request, authorization, f"{operation} with the {scheme} scheme")


@pytest.mark.parametrize("operation", each(WRITES))
def test_refused_write_changes_nothing(api, anonymous, target, shared_incident, operation):
    tag = target.tags[0]
    number = None
    if operation == "updateMonitorStatus":
        # The newest data point: DOWN for the current minute; an UP for that minute is refused.
        now = api.post("/api/status", {"status": "DOWN", "latency": 10, "tag": tag})
        assert now.status_code == 200, f"a push with the right token should answer 200: {now.text}"
        minute = int(now.json()["message"].split()[-1])
        request = {
            "method": "POST",
            "path": "/api/status",
            "json_body": {"status": "UP", "latency": 10, "tag": tag, "timestampInSeconds": minute},
        }
    else:
        number = shared_incident.number
        request = valid_request(operation, target, number, f"conformance-auth-{uuid.uuid4().hex}")
        if operation == "updateIncidentStatus":
            request["json_body"] = {"isResolved": False, "isIdentified": True}
    if number is not None:
        before_incident = api.get(f"/api/incident/{number}").json()
        before_comments = api.get(f"/api/incident/{number}/comment").json()
    for authorization in (None, f"Bearer {target.token}x", target.token):
        refused(anonymous, request, authorization, f"{operation} with bad credentials")
    if operation == "updateMonitorStatus":
        state = api.get("/api/status", params={"tag": tag}).json()
        assert (state.get("status"), state.get("lastUpdatedAt")) == ("DOWN", minute), (
            f"refused pushes of UP for minute {minute} must not be stored: expected status "
            f"'DOWN' at {minute}, got {state.get('status')!r} at {state.get('lastUpdatedAt')!r}"
        )
    elif operation == "createIncident":
        title = request["json_body"]["title"]
        for state in ("open", "closed"):
            found = api.get("/api/incident", params={"title_like": title, "state": state}).json()
            assert found == [], f"refused creations must not create incidents, found {found!r}"
    else:
        after_incident = api.get(f"/api/incident/{number}").json()
        after_comments = api.get(f"/api/incident/{number}/comment").json()
        assert (after_incident, after_comments) == (before_incident, before_comments), (
            f"refused {operation} calls must not change incident {number} or its comments: "
            f"before {before_incident!r}, {before_comments!r}; "
            f"after {after_incident!r}, {after_comments!r}"
        )


@pytest.mark.parametrize("operation", each(WRITES))
def test_unauthenticated_malformed_body_is_refused_without_a_server_error(
    anonymous, target, operation
):
    method, path = OPERATIONS[operation]
    for body, content_type in ((b'{"status": ', "application/json"), (b"", "application/json")):
        answer = anonymous.request(
            method,
            path.format(n=1),
            content=body,
            headers={"Content-Type": content_type},
            validate=False,
        )
        assert_json_error(answer, (400, 401), f"{operation} without credentials, body {body!r}")
        anonymous.validator.check(anonymous.exchanges[-1])


@pytest.mark.parametrize("operation", each(WRITES))
def test_credentials_are_judged_before_the_body(anonymous, target, operation):
    method, path = OPERATIONS[operation]
    bodies = (
        (b'{"status": ', "application/json", "malformed JSON"),
        (b"", "application/json", "an empty body"),
        (b"\xff\xfe{}", "application/json", "invalid UTF-8"),
        (b"{}", "text/plain", "a text/plain body"),
    )
    for authorization in (None, f"Bearer {target.token}x"):
        for body, content_type, what in bodies:
            headers = {"Content-Type": content_type}
            if authorization:
                headers["Authorization"] = authorization
            answer = anonymous.request(
                method, path.format(n=1), content=body, headers=headers, validate=False
            )
            who = "a wrong token" if authorization else "no credentials"
            assert_json_error(answer, (401,), f"{operation} with {who} and {what}")
            anonymous.validator.check(anonymous.exchanges[-1])


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_right_token_is_accepted(api, target, shared_incident, unique, operation):
    number = incident_number(operation, shared_incident)
    answer = api.request(**valid_request(operation, target, number, unique))
    assert answer.status_code == 200, (
        f"{operation} with 'Authorization: Bearer <the right token>' and a valid request "
        f"should answer 200, got {answer.status_code}: {answer.text[:300]}"
    )


@pytest.mark.operation("searchIncidents")
def test_bearer_scheme_name_is_case_insensitive(anonymous, target, unique):
    for scheme in ("bearer", "BEARER"):
        answer = anonymous.get(
            "/api/incident",
            params={"title_like": unique},
            headers={"Authorization": f"{scheme} {target.token}"},
        )
        assert answer.status_code == 200, (
            f"'Authorization: {scheme} <the right token>' should be accepted (auth scheme "
            f"names are case-insensitive), got {answer.status_code}: {answer.text[:300]}"
        )
