"""Serving the ASGI app from a WSGI server (waitress), one event loop per server thread.

A generic bridge (a2wsgi) runs every request on one shared event-loop thread and, for sync
handlers, on a thread pool: three hand-offs per request, which profiling showed to cost as much
as the work.
Here each waitress thread runs the app to completion on an event loop of its own: no hand-off,
and a handler that blocks (on the database) holds up only its own request, as in any WSGI app.
Bodies are small (JSON, capped), so the response is buffered and sent in one piece.

Most requests never wait on anything asynchronous: every await in the app's stack returns at
once (handlers run inline, the body is already read). Such a request is run to its end by
stepping its coroutine directly, with the thread's loop set as the running one; only one that
really suspends (on a future) is handed to that loop to finish. Running each request as a
task of the loop (`run_until_complete`) cost a tenth of a status push's CPU: a task, a
callback, and a poll of the loop's selector per request. One difference: during the direct
run `asyncio.current_task()` is None; nothing in this app's stack asks for it before its
first suspension (anyio's thread hand-offs would, and the app makes none).
"""

import asyncio
import functools
import logging
import threading
from http import HTTPStatus

from kener_api.errors import INTERNAL_ERROR_BODY

log = logging.getLogger(__name__)

_READ_SIZE = 65_536


class ThreadLoopWSGI:
    def __init__(self, app) -> None:
        self.app = app
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._loops_lock = threading.Lock()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            with self._loops_lock:
                self._loops.append(loop)
        return loop

    def close(self) -> None:
        with self._loops_lock:
            for loop in self._loops:
                loop.close()
            self._loops.clear()

    def __call__(self, environ, start_response):
        stream = environ["wsgi.input"]
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        body_done = False
        started: dict | None = None
        chunks: list[bytes] = []

        async def receive() -> dict:
            nonlocal remaining, body_done
            if body_done:
                return {"type": "http.disconnect"}
            data = stream.read(min(_READ_SIZE, remaining)) if remaining else b""
            remaining -= len(data)
            if not data:
                remaining = 0  # the client sent less than it announced
            body_done = remaining == 0
            return {"type": "http.request", "body": data, "more_body": not body_done}

        async def send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            _run(self._loop(), self.app(asgi_scope(environ), receive, send))
        except Exception:
            # Only a fault outside the error handlers gets here (they answer every exception);
            # whatever part of a response was made, the client gets the contract's 500.
            log.exception("unexpected error")
            started, chunks = _internal_error()
        status = started["status"]
        start_response(
            f"{status} {_phrase(status)}",
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in started["headers"]
            ],
        )
        return [b"".join(chunks)]


def _run(loop: asyncio.AbstractEventLoop, coroutine) -> None:
    """Run `coroutine` to its end on this thread: directly while it does not suspend, then on
    `loop`."""
    asyncio.events._set_running_loop(loop)
    try:
        pending = coroutine.send(None)
    except StopIteration:
        return
    finally:
        asyncio.events._set_running_loop(None)
    loop.run_until_complete(_Resumed(coroutine, pending))


class _Resumed:
    """The rest of a coroutine that suspended on `pending` before any loop ran it, as an
    awaitable a task can run: what the coroutine yields goes to the task, what the task sends
    or throws goes to the coroutine (as `yield from` would)."""

    def __init__(self, coroutine, pending) -> None:
        self.coroutine = coroutine
        self.pending = pending

    def __await__(self):
        pending = self.pending
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # cancellation included: the coroutine decides
                step = functools.partial(self.coroutine.throw, exc)
            else:
                step = functools.partial(self.coroutine.send, sent)
            try:
                pending = step()
            except StopIteration as stop:
                return stop.value


def asgi_scope(environ) -> dict:
    """The ASGI scope of a WSGI request. It cannot fail: whatever the client sent is passed
    on for `kener_api.request_reading` to judge. `raw_path` is the request target up to its
    `?`, as it came in the request line: waitress's PATH_INFO is percent-decoded already (`%2F`
    became `/`), and an absolute-form target lost its scheme and host there."""
    headers = [
        (key[5:].lower().replace("_", "-").encode("latin-1"), value.encode("latin-1"))
        for key, value in environ.items()
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.lower().replace("_", "-").encode(), environ[key].encode("latin-1")))
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    raw_path, _, raw_query = (
        environ.get("REQUEST_URI") or (path + ("?" + query if query else ""))
    ).partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.0").partition("/")[2],
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path.encode("latin-1").decode("utf-8", errors="replace"),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": raw_query.encode("latin-1"),
        "root_path": "",
        "server": (environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0)),
        "headers": headers,
        "extensions": {},
    }
    if environ.get("REMOTE_ADDR"):
        scope["client"] = (environ["REMOTE_ADDR"], int(environ.get("REMOTE_PORT") or 0))
    return scope


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _internal_error() -> tuple[dict, list[bytes]]:
    return (
        {
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(INTERNAL_ERROR_BODY)).encode()),
            ],
        },
        [INTERNAL_ERROR_BODY],
    )
