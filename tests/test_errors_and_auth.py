"""Authentication and the error contract: every error is application/json {"error": ...} with
a status the contract declares, and bad input never stores anything."""

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.conftest import TOKEN

VALID_PUSH = {"status": "UP", "latency": 1, "tag": "earth"}
VALID_INCIDENT = {"title": "t", "tags": ["earth"]}

OPERATIONS = [
    ("POST", "/api/status", VALID_PUSH),
    ("GET", "/api/status?tag=earth", None),
    ("POST", "/api/incident", VALID_INCIDENT),
    ("GET", "/api/incident", None),
    ("GET", "/api/incident/1", None),
    ("PATCH", "/api/incident/1", VALID_INCIDENT),
    ("POST", "/api/incident/1/comment", {"body": "b"}),
    ("GET", "/api/incident/1/comment", None),
    ("POST", "/api/incident/1/status", {"isResolved": True}),
]
WRITES = [(method, path, body) for method, path, body in OPERATIONS if body is not None]


def assert_error(answer, status, *fragments):
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    for fragment in fragments:
        assert fragment.lower() in body["error"].lower()


def assert_nothing_stored(api):
    assert api.get("/api/status", params={"tag": "earth"}).json() == {"uptime": "-"}
    assert api.get("/api/incident", params={"state": "open"}).json() == []
    assert api.get("/api/incident", params={"state": "closed"}).json() == []


BAD_CREDENTIALS = [
    None,
    "",
    TOKEN,
    f"Basic {TOKEN}",
    "Bearer",
    "Bearer wrong",
    f"Bearer {TOKEN}x",
    f"Bearer  {TOKEN[:-1]}",
    f"Token {TOKEN}",
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_every_operation_needs_the_bearer_token(anonymous, api, method, path, body):
    for authorization in BAD_CREDENTIALS:
        headers = {} if authorization is None else {"Authorization": authorization}
        answer = anonymous.request(method, path, json=body, headers=headers)
        assert_error(answer, 401)
    assert_nothing_stored(api)


def test_the_error_says_what_was_wrong_with_the_credentials(anonymous):
    def error(headers):
        return anonymous.get("/api/incident", headers=headers).json()["error"]

    assert "missing Authorization header" in error({})
    assert "Bearer <token>" in error({"Authorization": TOKEN})
    assert error({"Authorization": "Bearer wrong"}) == "invalid token"


def test_bearer_scheme_is_case_insensitive(anonymous):
    answer = anonymous.get("/api/incident", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_auth_is_checked_before_the_body(anonymous, method, path, body):
    for raw in (b"{not json", b"", b"\xff\xfe"):
        answer = anonymous.request(
            method, path, content=raw, headers={"Content-Type": "application/json"}
        )
        assert_error(answer, 401)


UNUSABLE_BODIES = [  # (body, content type, what the error names)
    (b"", "application/json", "body"),
    (b"   ", "application/json", "body"),
    (b'{"status": ', "application/json", "not valid JSON"),
    (b"\xff\xfe{}", "application/json", "UTF-8"),
    (b'{"tag": "\xc3\x28"}', "application/json", "UTF-8"),
    (b"NaN", "application/json", "NaN"),
    (b'{"latency": Infinity}', "application/json", "Infinity"),
    (b'{"latency": 1e309}', "application/json", "1e309"),
    (b'{"a": 1, "a": 2}', "application/json", "duplicate key 'a'"),
    (b"1" * 5000, "application/json", "not valid JSON"),
    (b"[" * 60_000, "application/json", "nested 60000 deep"),  # within the size limit
    (b"null", "application/json", "body"),
    (b"{}", "text/plain", "Content-Type"),
    (b"status=UP", "application/x-www-form-urlencoded", "Content-Type"),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_unusable_bodies_are_400(api, method, path, body):
    api.post("/api/incident", json=VALID_INCIDENT)
    for raw, content_type, fragment in UNUSABLE_BODIES:
        answer = api.request(method, path, content=raw, headers={"Content-Type": content_type})
        assert_error(answer, 400, fragment)


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_missing_content_type_is_400(api, method, path, body):
    api.post("/api/incident", json=VALID_INCIDENT)
    answer = api.request(
        method, path, content=json.dumps(body).encode(), headers={"Content-Type": ""}
    )
    assert_error(answer, 400)


def test_rejected_writes_store_nothing(api):
    for raw in (
        b"{",
        b"\xff",
        b'{"status": "UP", "latency": 1e309, "tag": "earth"}',
        b'{"status": "UP", "latency": 1, "tag": "earth", "tag": "google"}',
    ):
        api.post("/api/status", content=raw, headers={"Content-Type": "application/json"})
        api.post("/api/incident", content=raw, headers={"Content-Type": "application/json"})
    assert_nothing_stored(api)


def test_unknown_query_parameter_is_400(api):
    assert_error(api.get("/api/status", params={"tag": "earth", "at": "now"}), 400, "at")
    assert_error(api.get("/api/incident", params={"limit": 5}), 400, "limit")


def test_missing_query_parameter_is_400(api):
    assert_error(api.get("/api/status"), 400, "tag")


def test_undefined_path_is_a_json_404(api):
    assert_error(api.get("/api/nothing"), 404, "/api/nothing")
    assert_error(api.get("/index.html"), 404, "/index.html")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/status", "GET, POST"),
        ("DELETE", "/api/incident", "GET, POST"),
        ("DELETE", "/api/incident/1", "GET, PATCH"),
        ("PUT", "/api/incident/1/comment", "GET, POST"),
        ("GET", "/api/incident/1/status", "POST"),
        ("PATCH", "/api/incident/abc/status", "POST"),
    ],
)
def test_wrong_method_is_a_json_405_with_a_complete_allow(api, method, path, allow):
    answer = api.request(method, path)
    assert_error(answer, 405, method)
    assert answer.headers["allow"] == allow


def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are (httpx would refuse to send some of them) and read the answer."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_invalid_utf8_in_the_query_is_400(live_server):
    answer = raw_request(
        live_server.url,
        b"GET /api/status?tag=%FF%FE HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"application/json" in head
    assert "UTF-8" in json.loads(body)["error"]


def test_server_error_hides_details(api, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("storage.current_state", explode)
    answer = api.get("/api/status", params={"tag": "earth"})
    assert_error(answer, 500)
    assert answer.json() == {"error": "internal server error"}


def test_response_breaking_the_contract_is_a_500(api, monkeypatch):
    import handlers.monitors

    monkeypatch.setattr(handlers.monitors, "get_monitor_status", lambda tag: {"uptime": 100})
    answer = api.get("/api/status", params={"tag": "earth"})
    assert answer.json() == {"error": "internal server error"}
    assert answer.status_code == 500


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/api/incident", rb'{"title": "a\u0000b", "tags": ["earth"]}'),
        ("POST", "/api/incident", rb'{"title": "t", "tags": ["earth"], "body": "\u0000"}'),
        ("POST", "/api/incident", rb'{"title": "a\ud800b", "tags": ["earth"]}'),
        ("POST", "/api/status", rb'{"status": "UP", "latency": 1, "tag": "earth\u0000"}'),
        ("PATCH", "/api/incident/1", rb'{"title": "\udc00", "tags": ["earth"]}'),
        ("POST", "/api/incident/1/comment", rb'{"body": "\u0000"}'),
        ("POST", "/api/incident/1/comment", rb'{"body": "\udfff"}'),
    ],
)
def test_text_that_cannot_be_stored_the_same_everywhere_is_400(api, method, path, raw):
    original = api.post("/api/incident", json=VALID_INCIDENT).json()
    answer = api.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "must not contain")
    assert api.get("/api/incident/1").json() == original
    assert api.get("/api/incident/1/comment").json() == []
    assert api.get("/api/status", params={"tag": "earth"}).json() == {"uptime": "-"}


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/incident/1_0", "incidentNumber"),
        ("/api/incident/%201", "incidentNumber"),
        ("/api/incident/1%20", "incidentNumber"),
        ("/api/incident/%D9%A1", "incidentNumber"),  # ARABIC-INDIC DIGIT ONE
        ("/api/incident/%EF%BC%91/comment", "incidentNumber"),  # FULLWIDTH DIGIT ONE
        ("/api/incident/+1/status", "incidentNumber"),
        ("/api/incident?page=1_0", "page"),
        ("/api/incident?per_page=%2010", "per_page"),
        ("/api/incident?created_after_utc=1_000", "created_after_utc"),
        ("/api/incident?title_like=%00", "title_like"),
    ],
)
def test_parameters_are_read_as_sent_not_as_python_reads_them(api, path, named):
    for _ in range(10):
        api.post("/api/incident", json=VALID_INCIDENT)
    method = "POST" if path.endswith("/status") else "GET"
    answer = api.request(method, path, json={} if method == "POST" else None)
    assert_error(answer, 400, named)


def test_line_break_in_a_path_parameter_is_400_not_405(live_server):
    for path in (b"/api/incident/1%0A", b"/api/incident/1%0A/comment"):
        request = (
            b"GET "
            + path
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        assert raw_request(live_server.url, request).startswith(b"HTTP/1.1 400")
    request = b"GET /api/status%0A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert raw_request(live_server.url, request).startswith(b"HTTP/1.1 404")


def test_head_is_not_an_operation(api):
    answer = api.head("/api/status", params={"tag": "earth"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    # The connection stays usable: no body was sent with the HEAD answer.
    assert api.get("/api/status", params={"tag": "earth"}).status_code == 200
