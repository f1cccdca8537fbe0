"""Operations and assertions shared by the conformance tests."""

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


def assert_json_error(answer, statuses: tuple[int, ...], sent: str) -> str:
    """The answer has one of `statuses` and the body {"error": "<message>"} as
    application/json; returns the message."""
    expected = " or ".join(str(status) for status in statuses)
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
