"""The waitress server: its limits, and the JSON answers to what it refuses itself."""

import json
import logging
import threading
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge, RequestHeaderFieldsTooLarge

from kener_api.settings import Settings

# Connections held open at once; past it waitress stops accepting until one closes. Each idle
# connection costs a socket and a few KB, no thread: 500 absorbs a burst of clients or a
# slow-loris attempt without letting one exhaust the process's descriptors.
CONNECTION_LIMIT = 500
# A connection that sends nothing for this long is closed, a half-sent request included.
CHANNEL_TIMEOUT_SECONDS = 30
# On SIGTERM, how long requests already received may take to finish and be answered.
DRAIN_SECONDS = 30

log = logging.getLogger(__name__)

# Request line and headers; a bearer token and the usual proxy headers fit many times over.
MAX_HEADER_BYTES = 64 * 1024


def make_server(
    wsgi_app,
    settings: Settings,
    threads: int | None = None,
    channel_timeout: int = CHANNEL_TIMEOUT_SECONDS,
):
    """A waitress server for `wsgi_app` on the settings' address, not yet running."""
    server = create_server(
        wsgi_app,
        host=settings.host,
        port=settings.port,
        threads=threads or settings.worker_threads,
        ident="kener-api",
        # poll() rather than select(), which fails once a descriptor number passes 1023.
        asyncore_use_poll=True,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=channel_timeout,
        cleanup_interval=min(10, channel_timeout),
        max_request_header_size=MAX_HEADER_BYTES,
        # waitress refuses a body of this size or more: from the Content-Length header before
        # reading it, or while reading a chunked one.
        max_request_body_size=settings.max_body_bytes + 1,
        # waitress would drop X-Forwarded-For and X-Real-IP from every peer, its own
        # `trusted_proxy` being one address; kener_api.auth believes them from the networks in
        # TRUSTED_PROXIES only, and ignores them from anyone else.
        clear_untrusted_proxy_headers=False,
    )
    # One server, or one per address when the host name resolves to several.
    for listener in _listeners(server):
        listener.channel_class = JSONErrorChannel
    return server


class JSONErrorTask(ErrorTask):
    """What waitress refuses before the app sees it (an oversized body or header, a malformed
    request line or chunked encoding) answered as the contract answers every error:
    `application/json` `{"error": ...}`, 400, since each is the client's doing."""

    def execute(self):
        error = self.request.error
        if isinstance(error, RequestEntityTooLarge):
            limit = self.channel.server.adj.max_request_body_size - 1
            message = f"request body too large: the limit is {limit} bytes"
        elif isinstance(error, RequestHeaderFieldsTooLarge):
            limit = self.channel.server.adj.max_request_header_size
            message = f"request line and headers too large: the limit is {limit} bytes"
        else:
            message = f"malformed request: {error.reason}: {error.body}"
        body = json.dumps({"error": message}).encode()
        # 501 is waitress refusing a Transfer-Encoding it does not know: the client's doing.
        client_fault = error.code < 500 or error.code == 501
        self.status = "400 Bad Request" if client_fault else "500 Internal Server Error"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class RequestParser(HTTPRequestParser):
    """waitress's request parser, less three faults found by tests/test_http_messages.py:

    - a request line with any HTTP/x.y was answered as if it were HTTP/1.0: `HTTP/2.0` and
      `HTTP/1.2` are refused (400; RFC 9110's 505 is a 5xx, which would read as the server's
      fault);
    - `Expect: 100-continue` on a request without a body made waitress wait for a body that
      would never come, until the client gave up: with nothing to continue, no 100 is due;
    - a chunked body was measured with its framing (chunk sizes, extensions, line ends)
      against the body limit, so that 50 KB sent in 7-byte chunks was refused as over 64 KB.
      The limit is the body's; framing may take up to FRAMING_ALLOWANCE times as much.
    """

    _wire_bytes = 0

    def parse_header(self, header_plus) -> None:
        super().parse_header(header_plus)
        if self.version not in ("1.0", "1.1"):
            raise ParsingError(f"HTTP/{self.version} is not supported: send HTTP/1.1 or HTTP/1.0")
        if self.body_rcv is None:
            self.expect_continue = False

    @property
    def body_bytes_received(self) -> int:
        decoded = len(self.body_rcv) if self.body_rcv is not None else 0
        return max(decoded, self._wire_bytes // FRAMING_ALLOWANCE)

    @body_bytes_received.setter
    def body_bytes_received(self, value: int) -> None:
        self._wire_bytes = value  # what waitress counts: the bytes on the wire


# Bytes on the wire per byte of a chunked body, at most: 1-byte chunks take 6 ("1\r\nx\r\n").
FRAMING_ALLOWANCE = 8


class JSONErrorChannel(HTTPChannel):
    error_task_class = JSONErrorTask
    parser_class = RequestParser


def run_until(server, stop: threading.Event) -> None:
    """Serve until `stop` is set; then stop accepting connections, let the requests already
    received finish and their answers go out (for at most DRAIN_SECONDS), and close.

    waitress's own `run()` stops at once on a signal: the answers of requests still running in
    its threads would never be sent.
    """
    socket_map = _socket_map(server)
    while not stop.is_set():
        wasyncore.loop(timeout=1, map=socket_map, use_poll=True, count=1)
    with _STOPPING:  # a request_stop still pulling the trigger finishes first
        for listener in _listeners(server):
            wasyncore.dispatcher.close(listener)  # the listening socket only, not the trigger
    deadline = time.monotonic() + DRAIN_SECONDS
    while _in_flight(socket_map):
        if time.monotonic() > deadline:
            log.warning("gave up on requests still running after %d s", DRAIN_SECONDS)
            break
        wasyncore.loop(timeout=0.05, map=socket_map, use_poll=True, count=1)
    server.task_dispatcher.shutdown()
    wasyncore.close_all(socket_map)


def request_stop(server, stop: threading.Event) -> None:
    """Make `run_until(server, stop)` begin to stop now, not at its next poll timeout."""
    with _STOPPING:
        if stop.is_set():  # already stopping: the trigger may be closed
            return
        stop.set()
        for listener in _listeners(server):
            listener.pull_trigger()


# Setting `stop` and pulling the trigger is one step: run_until closes nothing in between
# (once it saw `stop` and closed the trigger, a late pull would write to a closed, maybe
# reused, descriptor). Re-entrant, for a signal handler running on the serving thread.
_STOPPING = threading.RLock()


def _socket_map(server) -> dict:
    # A single server keeps its map in `_map`, several (MultiSocketServer) in `map`.
    return server.map if hasattr(server, "map") else server._map


def _listeners(server) -> list:
    # Copied first: the serving thread adds and removes channels meanwhile.
    return [d for d in list(_socket_map(server).values()) if isinstance(d, BaseWSGIServer)]


def _in_flight(socket_map: dict) -> bool:
    """A request received whole and not yet answered, or an answer not yet sent."""
    return any(
        isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len)
        for channel in list(socket_map.values())
    )
