"""Operations, set-up and assertions shared by the conformance tests."""

import uuid

from conformance.preconditions import INCIDENTS

# operationId -> (method, path); {n} is an existing incident's number.
OPERATIONS = {
    "updateMonitorStatus": ("POST", "/api/status"),
    "getMonitorStatus": ("GET", "/api/status"),
    "createIncident": ("POST", "/api/incident"),
    "searchIncidents": ("GET", "/api/incident"),
    "getIncident": ("GET", "/api/incident/{n}"),
    "updateIncident": ("PATCH", "/api/incident/{n}"),
    "addIncidentComment": ("POST", "/api/incident/{n}/comment"),
    "getIncidentComments": ("GET", "/api/incident/{n}/comment"),
    "updateIncidentStatus": ("POST", "/api/incident/{n}/status"),
}
WRITES = [operation for operation, (method, _) in OPERATIONS.items() if method != "GET"]


def statuses_text(statuses: tuple[int, ...]) -> str:
    """`(400,)` -> "400", `(400, 401)` -> "400 or 401", `range(400, 500)` -> "a 4xx"."""
    if set(statuses) == set(range(400, 500)):
        return "a 4xx"
    return " or ".join(str(status) for status in statuses)


def assert_json_error(answer, statuses: tuple[int, ...], sent: str) -> str:
    """The answer has one of `statuses` and the body {"error": "<message>"} as
    application/json; returns the message."""
    expected = statuses_text(statuses)
    assert answer.status_code in statuses, (
        f"{sent}: expected {expected} with a JSON error body, got {answer.status_code}: "
        f"{answer.text[:300]!r}"
    )
    media_type = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    assert media_type == "application/json", (
        f"{sent}: the error should be served as application/json, got Content-Type "
        f"{answer.headers.get('content-type')!r}"
    )
    try:
        body = answer.json()
    except ValueError:
        raise AssertionError(f"{sent}: the error body is not JSON: {answer.text[:300]!r}") from None
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f'{sent}: the error body should be {{"error": "<message>"}}, got {body!r}'
    )
    return body["error"]


def create_incident(api, preconditions, keep: str | None = None, **fields) -> dict:
    """Set-up: create an incident and answer it (at least its `incidentNumber`), or block the
    test, with the cause, if the target cannot create one: after a first failure the tests
    that need an incident are blocked at once, without asking again. With `keep`, the incident
    is created once and kept under that name for the run."""

    def make():
        answer = api.post("/api/incident", json_body=fields, validate=False)
        assert answer.status_code == 200, (
            f"POST /api/incident answered {answer.status_code}: {answer.text[:200]!r}"
        )
        incident = answer.json()
        number = incident.get("incidentNumber") if isinstance(incident, dict) else None
        assert isinstance(number, int) and not isinstance(number, bool), (
            f"POST /api/incident answered no incidentNumber: {answer.text[:200]!r}"
        )
        return incident

    return preconditions.run(INCIDENTS, make, keep=keep, variant="with " + ", ".join(fields))


class SharedIncident:
    """One incident of the run that tests about other things work on: created at first use,
    resolved so that it is not left open. Tests that do not need it never create it."""

    def __init__(self, api, target, preconditions) -> None:
        self.api, self.target, self.preconditions = api, target, preconditions

    def get(self) -> dict:
        return create_incident(
            self.api,
            self.preconditions,
            keep="the shared incident",
            title=f"conformance-shared-{uuid.uuid4().hex[:12]}",
            # A body: what the rules about creating judge (an incident created without one)
            # is no set-up of the others.
            body="conformance: shared incident",
            tags=[self.target.tags[0]],
            isResolved=True,
        )

    @property
    def number(self) -> int:
        return self.get()["incidentNumber"]
