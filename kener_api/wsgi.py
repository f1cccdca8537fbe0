"""Serving the ASGI app from a WSGI server (waitress), one event loop per server thread.

a2wsgi's bridge runs every request on one shared event-loop thread and, for sync handlers, on a
thread pool: three hand-offs per request, which profiling showed to cost as much as the work.
Here each waitress thread runs the app to completion on an event loop of its own: no hand-off,
and a handler that blocks (on the database) holds up only its own request, as in any WSGI app.
Bodies are small (JSON, capped), so the response is buffered and sent in one piece.
"""

import asyncio
import logging
import threading
from http import HTTPStatus

from a2wsgi.asgi import build_scope

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
            self._loop().run_until_complete(self.app(build_scope(environ), receive, send))
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
