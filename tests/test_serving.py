"""How requests are served: the WSGI bridge (one event loop per waitress thread) and the
pipeline that does its set-up once per operation (kener_api.wsgi, kener_api.connexion_internals)."""

import asyncio
import io
import json
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

import storage
from kener_api.connexion_internals import (
    CompiledJSONResponseBodyValidator,
    NamedParameterValidator,
    StrictJSONBodyValidator,
    validator_map,
)
from kener_api.wsgi import ThreadLoopWSGI
from tests.conftest import TOKEN, serving


def call(wsgi_app, method: str, path: str, body: bytes = b"", query: str = "", length=None):
    """One request through `wsgi_app`, as waitress makes it; answers (status, headers, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body) if length is None else length),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, dict(headers)

    chunks = wsgi_app(environ, start_response)
    return started["status"], started["headers"], b"".join(chunks)


def test_handlers_run_on_the_thread_serving_the_request(app, monkeypatch):
    threads = []
    real = storage.current_state

    def recording(tag):
        threads.append(threading.get_ident())
        return real(tag)

    monkeypatch.setattr(storage, "current_state", recording)
    wsgi_app = ThreadLoopWSGI(app)
    try:
        status, _, body = call(wsgi_app, "GET", "/api/status", query="tag=earth")
    finally:
        wsgi_app.close()
    assert status == "200 OK", body
    # Not handed to an event-loop thread, nor to a thread pool.
    assert threads == [threading.get_ident()]


def test_each_thread_gets_its_own_event_loop(app):
    wsgi_app = ThreadLoopWSGI(app)
    answers = []

    def serve():
        answers.append(call(wsgi_app, "GET", "/api/status", query="tag=earth")[0])

    try:
        workers = [threading.Thread(target=serve) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert answers == ["200 OK"] * 4
        assert len(wsgi_app._loops) == 4
    finally:
        wsgi_app.close()
    assert wsgi_app._loops == []


async def _broken_after_starting(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise RuntimeError("broken after starting its answer")


async def _broken_after_suspending(scope, receive, send):
    await asyncio.sleep(0)
    raise RuntimeError("broken after a suspension")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_broken_after_starting, "broken after starting its answer"),
        # Finished on the loop (kener_api.wsgi._Resumed): the fault still reaches the bridge.
        (_broken_after_suspending, "broken after a suspension"),
    ],
)
def test_fault_outside_the_error_handlers_is_the_contracts_500(caplog, broken, message):
    wsgi_app = ThreadLoopWSGI(broken)
    try:
        status, headers, body = call(wsgi_app, "GET", "/api/status")
    finally:
        wsgi_app.close()
    assert status == "500 Internal Server Error"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "internal server error"}
    assert message in caplog.text


@pytest.mark.parametrize("size", [0, 10, 65_536, 200_001])
def test_bodies_reach_the_app_whole_in_any_number_of_reads(size):
    async def echo_length(scope, receive, send):
        received, more = b"", True
        while more:
            message = await receive()
            received += message["body"]
            more = message["more_body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(received)).encode()})

    wsgi_app = ThreadLoopWSGI(echo_length)
    try:
        assert call(wsgi_app, "POST", "/", body=b"x" * size)[2] == str(size).encode()
        # A client that sends less than it announced: the app gets what came, and no hang.
        assert call(wsgi_app, "POST", "/", body=b"x" * 10, length=1000)[2] == b"10"
    finally:
        wsgi_app.close()


def test_validators_are_built_once_per_operation_not_per_request(app, monkeypatch):
    built = []

    def count_construction(cls):
        init = cls.__init__

        def counting_init(self, *args, **kwargs):
            built.append(cls.__name__)
            init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting_init)

    wsgi_app = ThreadLoopWSGI(app)
    push = json.dumps({"status": "UP", "latency": 1, "tag": "earth"}).encode()
    try:
        # The first requests build the middleware stack, and with it the validators.
        assert call(wsgi_app, "POST", "/api/status", body=push)[0] == "200 OK"
        assert call(wsgi_app, "GET", "/api/status", query="tag=earth")[0] == "200 OK"
        count_construction(NamedParameterValidator)
        count_construction(StrictJSONBodyValidator)
        for _ in range(5):
            assert call(wsgi_app, "POST", "/api/status", body=push)[0] == "200 OK"
            assert call(wsgi_app, "GET", "/api/status", query="tag=earth")[0] == "200 OK"
            status, _, body = call(wsgi_app, "GET", "/api/status", query="tag=nope")
            assert status == "400 Bad Request", body
    finally:
        wsgi_app.close()
    assert built == []


def test_one_schema_validator_per_schema():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = [
        StrictJSONBodyValidator(schema=schema, encoding="utf-8", strict_validation=True)
        for _ in range(2)
    ]
    assert request[0]._validator is request[1]._validator
    response = [
        CompiledJSONResponseBodyValidator({}, schema=schema, encoding="utf-8") for _ in range(2)
    ]
    assert response[0].validator is response[1].validator
    assert response[0].validator is not request[0]._validator  # request and response rules differ
    assert validator_map()["response"]["application/json"] is CompiledJSONResponseBodyValidator
    assert validator_map()["body"]["application/json"] is StrictJSONBodyValidator


def _answering(text: bytes):
    async def answer(send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text})

    return answer


def test_a_request_that_never_suspends_runs_without_a_task():
    seen = {}

    async def app(scope, receive, send):
        seen["loop"] = asyncio.get_running_loop()
        seen["task"] = asyncio.current_task()
        await _answering(b"direct")(send)

    wsgi_app = ThreadLoopWSGI(app)
    try:
        assert call(wsgi_app, "GET", "/")[2] == b"direct"
        assert seen["loop"] is wsgi_app._loop()  # the thread's own loop is the running one
        assert seen["task"] is None
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()  # and no longer once the request is done
    finally:
        wsgi_app.close()


def test_a_request_that_suspends_is_finished_on_the_loop():
    """Whatever the app awaits after its first real suspension (a sleep, a future set by
    another thread, an exception thrown into it by the loop) behaves as on the loop."""

    async def app(scope, receive, send):
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        threading.Timer(0.01, loop.call_soon_threadsafe, (future.set_result, b"late")).start()
        text = await future
        try:
            await asyncio.wait_for(asyncio.sleep(5), timeout=0.01)
        except TimeoutError:
            text += b", timed out"
        assert asyncio.current_task() is not None
        await _answering(text)(send)

    wsgi_app = ThreadLoopWSGI(app)
    try:
        for _ in range(3):  # and the thread's loop serves the next one too
            assert call(wsgi_app, "GET", "/")[2] == b"late, timed out"
    finally:
        wsgi_app.close()


def _sized_app(size: int):
    body = bytes(range(256)) * (size // 256)

    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app, body


def _read_slowly(url: str, chunk: int, pause: float, requests: int = 2) -> list[bytes]:
    """GET `url` `requests` times on one kept-alive connection, read `chunk` bytes at a time:
    a client slower than the server."""
    target = urlsplit(url)
    bodies = []
    with socket.create_connection((target.hostname, target.port), timeout=10) as sock:
        pending = b""
        for _ in range(requests):
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode())
            while b"\r\n\r\n" not in pending:
                pending += sock.recv(chunk)
            head, _, pending = pending.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))
            while len(pending) < length:
                data = sock.recv(chunk)
                assert data, "connection closed before the whole answer"
                pending += data
                time.sleep(pause)
            bodies.append(pending[:length])
            pending = pending[length:]
    return bodies


def test_answers_larger_than_the_socket_takes_reach_slow_readers_whole():
    """The serving loop leaves a connection alone while a server thread writes to it
    (kener_api.serving.JSONErrorChannel.writable): what the client had no room for is still
    sent once the task ends, to several slow readers at once."""
    app, body = _sized_app(6 * 1024 * 1024)
    with serving(app) as url:
        results = [None] * 4

        def read(i):
            results[i] = _read_slowly(url, 16 * 1024, 0.001)

        readers = [threading.Thread(target=read, args=(i,)) for i in range(4)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=60)
    assert results == [[body, body]] * 4


def test_no_answer_waits_for_the_serving_loops_timeout():
    """A request whose answer was left to the loop must not wait for the loop's next pass
    (waitress's is a second): each of many small answers, on connections served at once,
    comes in well under it."""
    app, body = _sized_app(64 * 1024)
    slowest = []
    with serving(app) as url:

        def client():
            with httpx.Client(base_url=url) as http:
                worst = 0.0
                for _ in range(25):
                    started = time.monotonic()
                    assert http.get("/").content == body
                    worst = max(worst, time.monotonic() - started)
                slowest.append(worst)

        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=60)
    assert len(slowest) == 8
    assert max(slowest) < 0.9, slowest


def _bodiless_app(status: int):
    async def app(scope, receive, send):
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"etag", b'"x"')]}
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def _exchange(sock, head: bytes) -> bytes:
    sock.sendall(head)
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    return answer


@pytest.mark.parametrize("status", [304, 204])
def test_an_answer_without_a_body_keeps_the_connection(status):
    """kener_api.serving.KeepAliveTask: a 304 (or 204) ends with its headers; the connection
    stays open for the next request, unless the client asked to close it."""
    with serving(_bodiless_app(status)) as url:
        target = urlsplit(url)
        with socket.create_connection((target.hostname, target.port), timeout=5) as sock:
            for _ in range(3):
                answer = _exchange(
                    sock, f"GET / HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode()
                )
                assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
                assert b"connection: close" not in answer.lower()
                assert b"content-length" not in answer.lower()
                assert b"transfer-encoding" not in answer.lower()
            closing = f"GET / HTTP/1.1\r\nHost: {target.netloc}\r\nConnection: close\r\n\r\n"
            answer = _exchange(sock, closing.encode())
            assert b"connection: close" in answer.lower()
            assert sock.recv(4096) == b""  # and closed
        with socket.create_connection((target.hostname, target.port), timeout=5) as sock:
            answer = _exchange(sock, f"GET / HTTP/1.0\r\nHost: {target.netloc}\r\n\r\n".encode())
            assert sock.recv(4096) == b""  # HTTP/1.0 without keep-alive: closed, as before
