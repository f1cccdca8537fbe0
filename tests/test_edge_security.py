"""Security at the edge: one framing or none, no credential in an error or a log line, bounded
parsing, a token that cannot be guessed, files only their owner reads."""

import dataclasses
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest

import storage
from conformance.raw_http import exchange
from kener_api import create_app
from kener_api.auth import FailureLimiter
from kener_api.settings import Settings, SettingsError
from storage.errors import TooCostly
from storage.models import DataPoint
from tests.conftest import TOKEN, serving

PUSH = b'{"status":"UP","latency":1,"tag":"earth"}'
# A request hidden after the first: were it read, earth would be DOWN.
SMUGGLED = (
    b"POST /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + TOKEN.encode()
    + b"\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n"
    + b'{"status":"DOWN","latency":1,"tag":"earth"}\n'
)
CHUNKED = b"%x\r\n%s\r\n0\r\n\r\n" % (len(PUSH), PUSH)
HEAD = (
    b"POST /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + TOKEN.encode()
    + b"\r\nContent-Type: application/json\r\n"
)

AMBIGUOUS = {
    "both lengths": HEAD
    + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(CHUNKED)
    + CHUNKED,
    "chunked twice in one header": HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n" + CHUNKED,
    "Transfer-Encoding twice": HEAD
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
    + CHUNKED,
    "folded Transfer-Encoding": HEAD + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + CHUNKED,
    "chunked not final": HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n" + CHUNKED,
    "chunked after gzip": HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + CHUNKED,
    "chunked in HTTP/1.0": HEAD.replace(b"HTTP/1.1", b"HTTP/1.0")
    + b"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    + CHUNKED,
    "Content-Length twice": HEAD
    + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(PUSH), len(PUSH))
    + PUSH,
    "obs-fold in another header": HEAD
    + b"X-Note: a\r\n b\r\nContent-Length: %d\r\n\r\n" % len(PUSH)
    + PUSH,
}


def stored_statuses() -> list[str]:
    with storage.models.database.connection_context():
        return [point.status for point in DataPoint.select()]


def send_until_closed(url: str, data: bytes) -> bytes:
    """Everything the server sends back on one connection until it closes it (a timeout
    fails: the server must close)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("message", AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
def test_an_ambiguous_message_is_refused_and_nothing_after_it_is_read(live_server, message):
    received = send_until_closed(live_server.url, message + SMUGGLED)
    assert received.split(b"\r\n")[0].endswith(b" 400 Bad Request"), received[:200]
    # One answer, then the connection closed.
    assert len(re.findall(rb"HTTP/1\.[01] \d{3} ", received)) == 1, received
    body = json.loads(received.partition(b"\r\n\r\n")[2])
    assert body["error"].startswith("malformed request")
    assert stored_statuses() == []  # neither the refused push nor the hidden one


def test_the_plain_pipelined_requests_are_both_read(live_server):
    """The control: the same two requests, framed once each, are both served."""
    first = HEAD + b"Content-Length: %d\r\n\r\n" % len(PUSH) + PUSH
    last = SMUGGLED.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    received = send_until_closed(live_server.url, first + last)
    assert received.count(b"HTTP/1.1 200 OK") == 2, received
    assert stored_statuses() == ["DOWN"]  # the second replaced the first's minute


def test_a_refused_header_line_is_not_echoed(live_server):
    secret = "secret-credential-0123456789"
    request = (
        b"GET /api/status?tag=earth HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + secret.encode() + b"\r\x00\r\n\r\n"
    )
    answer = exchange(live_server.url, request)
    assert answer.status == 400
    assert secret not in answer.body.decode()


@pytest.mark.parametrize("depth", [32, 950, 30_000])
def test_deep_nesting_is_refused_before_any_parser(api, depth):
    body = '{"status": "UP", "latency": 1, "tag": "earth", "x": ' + "[" * depth + "]" * depth
    answer = api.post(
        "/api/status", content=body + "}", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert f"nested {depth + 1} deep, more than the 32 allowed" in answer.json()["error"]
    assert stored_statuses() == []


def test_nesting_within_the_limit_is_read(api):
    brackets = "[[[[{}]]]]" * 40  # brackets inside strings do not count
    body = '{"status": "UP", "latency": 1, "tag": "earth", "x": ' + "[" * 31 + "]" * 31
    body += ', "y": ' + json.dumps(brackets) + "}"
    answer = api.post("/api/status", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("token", ["a", "fifteen-chars-x"])
def test_a_short_api_token_is_refused(token):
    with pytest.raises(SettingsError, match="at least 16 characters"):
        Settings.load(environ={"API_TOKEN": token})


def test_a_token_of_sixteen_characters_is_taken():
    assert Settings.load(environ={"API_TOKEN": "x" * 16}).api_token == "x" * 16


def test_log_lines_cannot_be_split_and_key_secrets_are_redacted(live_server, anonymous, caplog):
    caplog.set_level(logging.INFO, logger="kener_api.access")
    secret = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0MTIzNDU2"  # a key's secret, no prefix
    anonymous.get("/api/incident/1\u2028forged log line\u0085x")
    anonymous.get(f"/api/status?tag={secret}")
    messages = [r.getMessage() for r in caplog.records if r.name == "kener_api.access"]
    assert len(messages) == 2
    for message in messages:
        assert message.splitlines() == [message]
        json.loads(message)
    assert "\\u2028forged log line\\u0085" in messages[0]
    assert secret not in messages[1]
    assert "[redacted]" in messages[1]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_written_is_its_owners_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = data / "kener.db"
    old.touch(mode=0o644)  # as an earlier version left it
    os.chmod(old, 0o644)
    env = {**os.environ, "KENER_DATA_DIR": str(data), "DATABASE_URL": ""}
    for args in (
        ["keys", "create", "pusher", "--scope", "push"],
        ["backup", str(tmp_path / "b.db")],
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "kener_api.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
    written = [old, tmp_path / "b.db", *data.glob("kener.db-*")]
    assert {path.name: _mode(path) for path in written} == {path.name: 0o600 for path in written}


def test_wrong_credentials_are_limited_per_address(settings, caplog):
    limited = dataclasses.replace(settings, auth_failures_per_minute=5)
    app = create_app(limited)
    try:
        with serving(app, limited) as url:
            wrong = {"Authorization": "Bearer wrong-token-0123456789"}
            right = {"Authorization": f"Bearer {TOKEN}"}
            for _ in range(5):
                answer = httpx.get(f"{url}/api/incident", headers=wrong)
                assert answer.json() == {"error": "invalid token"}
            # Past the limit the credential is not looked at: the right one is refused too.
            refused = httpx.get(f"{url}/api/incident", headers=right)
            assert refused.status_code == 401
            assert refused.json()["error"].startswith(
                "too many wrong credentials from 127.0.0.1: try again in "
            )
            other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"))
            with other:
                assert other.get(f"{url}/api/incident", headers=right).status_code == 200
    finally:
        storage.close_database()
    assert any("5 wrong credentials from 127.0.0.1" in r.getMessage() for r in caplog.records)


def test_the_failure_window_slides():
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    for _ in range(2):
        assert not limiter.failed("192.0.2.1")
    assert limiter.failed("192.0.2.1")  # the third reaches the limit
    assert limiter.wait("192.0.2.1") == 60
    assert limiter.wait("192.0.2.2") == 0
    now[0] += 59.5
    assert limiter.wait("192.0.2.1") == 0.5
    now[0] += 1
    assert limiter.wait("192.0.2.1") == 0


def _head(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        return connection.recv(65536)


def test_no_100_continue_and_no_body_read_without_credentials(live_server):
    head = (
        b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nExpect: 100-continue\r\n" % len(PUSH)
    )
    refused = send_until_closed(live_server.url, head + b"\r\n")  # the body is never sent
    assert refused.startswith(b"HTTP/1.1 401 Unauthorized\r\n") or refused.startswith(
        b"HTTP/1.0 401 Unauthorized\r\n"
    ), refused
    assert b"missing Authorization header" in refused
    wrong = send_until_closed(
        live_server.url, head + b"Authorization: Bearer wrong-0123456789\r\n\r\n"
    )
    assert b" 401 Unauthorized\r\n" in wrong.split(b"\r\n\r\n")[0] + b"\r\n", wrong
    assert b"invalid token" in wrong
    accepted = _head(
        live_server.url, head + b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    )
    assert accepted == b"HTTP/1.1 100 Continue\r\n\r\n"
    key = storage.keys.create_key("pusher", "push", 0)
    with_key = _head(live_server.url, head + b"Authorization: Bearer " + key.encode() + b"\r\n\r\n")
    assert with_key == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert stored_statuses() == []


def test_a_statement_past_its_time_limit_is_stopped(app):
    if storage.database.is_sqlite():
        slow = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e9) "
            "SELECT count(*) FROM c"
        )
    else:
        slow = "SELECT pg_sleep(5)"
    started = time.monotonic()
    with (
        storage.models.database.connection_context(),
        pytest.raises(TooCostly, match=r"^test stopped after 0.2 s, its limit: narrow it$"),
        storage.database.time_limit(0.2, "test", "narrow it"),
    ):
        storage.models.database.execute_sql(slow)
    assert time.monotonic() - started < 2
    # The connection serves the next statement as usual.
    with storage.models.database.connection_context():
        assert storage.models.database.execute_sql("SELECT 1").fetchone()[0] == 1


def test_a_search_past_its_time_limit_is_400(api, monkeypatch):
    if not storage.database.is_sqlite():
        pytest.skip("PostgreSQL's statement_timeout has a 1 ms floor, which a small search beats")
    for index in range(200):  # enough rows to pass the handler's 1,000-step checks
        api.post("/api/incident", json={"title": f"incident {index}", "tags": ["earth"]})
    monkeypatch.setattr(storage.incidents, "SEARCH_SECONDS", 0)
    answer = api.get("/api/incident", params={"title_like": "outage"})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "search stopped after 0 s, its limit: "
        "narrow it with tags, created_after_utc or a shorter title_like"
    )


def test_100_continue_is_refused_also_behind_a_pipelined_request(live_server):
    """waitress decides on 100 Continue in two places: when the head arrives, and, when
    requests were queued before it, once they are answered. Both refuse alike."""
    first = b"GET /api/status?tag=earth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    first += TOKEN.encode() + b"\r\n\r\n"
    waiting = (
        b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(PUSH)
    )
    received = send_until_closed(live_server.url, first + waiting)  # the body is never sent
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3}) ", received)
    assert statuses == [b"200", b"401"], received
    assert b"missing Authorization header" in received


def test_100_continue_with_two_authorization_headers_is_400_as_without_it(live_server):
    """Found by the generator: the channel said 401 "invalid token" where the app says 400."""
    credential = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
    head = (
        b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nExpect: 100-continue\r\n" % len(PUSH)
    )
    received = send_until_closed(live_server.url, head + credential + credential + b"\r\n")
    assert re.findall(rb"HTTP/1\.[01] (\d{3}) ", received) == [b"400"], received
    assert b"Authorization header given more than once" in received
