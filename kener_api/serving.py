"""The waitress server: its limits, and the JSON answers to what it refuses itself."""

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import (
    BadRequest,
    Error,
    RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge,
)

from kener_api.auth import AddressPolicy, credential_known, existing_token, normalized_address
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
# An answer up to this size is buffered in memory rather than in a temporary file (waitress's
# default is 1 MiB, which Swagger UI's script passes): waitress can leave such a file unclosed
# when the client goes away, and a process serving browsers would leak descriptors.
OUTPUT_BUFFER_BYTES = 8 * 1024 * 1024


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
        outbuf_overflow=OUTPUT_BUFFER_BYTES,
        # waitress refuses a body of this size or more: from the Content-Length header before
        # reading it, or while reading a chunked one.
        max_request_body_size=settings.max_body_bytes + 1,
        # waitress would drop X-Forwarded-For and X-Real-IP from every peer, its own
        # `trusted_proxy` being one address; kener_api.auth believes them from the networks in
        # TRUSTED_PROXIES only, and ignores them from anyone else.
        clear_untrusted_proxy_headers=False,
    )
    # One server, or one per address when the host name resolves to several.
    edge = EdgePolicy.from_settings(settings)
    for listener in _listeners(server):
        listener.channel_class = JSONErrorChannel
        listener.edge = edge
    return server


class JSONErrorTask(ErrorTask):
    """What waitress refuses before the app sees it (an oversized body or header, a malformed
    request line or chunked encoding) answered as the contract answers every error:
    `application/json` `{"error": ...}`, 400, since each is the client's doing."""

    def execute(self):
        error = self.request.error
        if isinstance(error, MissingCredentials):
            body = json.dumps({"error": error.body}).encode()
            self.status = "401 Unauthorized"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            return
        if isinstance(error, RequestEntityTooLarge):
            limit = self.channel.server.adj.max_request_body_size - 1
            message = f"request body too large: the limit is {limit} bytes"
        elif isinstance(error, RequestHeaderFieldsTooLarge):
            limit = self.channel.server.adj.max_request_header_size
            message = f"request line and headers too large: the limit is {limit} bytes"
        else:
            detail = error.body
            if 'header line "' in detail:
                # waitress quotes the whole line, which may be the Authorization header.
                detail = detail.partition('"')[0].rstrip(' :"') + " (line not shown)"
            message = f"malformed request: {error.reason}: {detail}"
        body = json.dumps({"error": message}).encode()
        # 501 is waitress refusing a Transfer-Encoding it does not know: the client's doing.
        client_fault = error.code < 500 or error.code == 501
        self.status = "400 Bad Request" if client_fault else "500 Internal Server Error"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class KeepAliveTask(WSGITask):
    """waitress's task, keeping an HTTP/1.1 connection open after an answer that has no body
    (304 Not Modified, 204). waitress closed it for want of a Content-Length, which such an
    answer must not carry and does not need (RFC 9112 section 6.3: it ends with its headers):
    every revalidation of a page or badge cost the client a new connection."""

    _bodiless = False

    def build_response_header(self):
        if self.has_body or self.version != "1.1":
            return super().build_response_header()
        self._bodiless = True
        try:
            return super().build_response_header()
        finally:
            self._bodiless = False

    def set_close_on_finish(self) -> None:
        # During build_response_header of a bodiless answer, waitress asks to close only for
        # the missing Content-Length; a client's `Connection: close` still closes.
        if self._bodiless and self.request.headers.get("CONNECTION", "").lower() != "close":
            return
        super().set_close_on_finish()


class RequestParser(HTTPRequestParser):
    """waitress's request parser, with one framing or none (`_check_framing`), less three
    faults found by tests/test_http_messages.py:

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
        _check_framing(header_plus)
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


def _check_framing(header_plus: bytes) -> None:
    """One framing or none (RFC 9112 sections 5.2, 6.1 and 6.3): a message whose length two
    parties could read differently is refused, so that no request can hide inside another one
    behind a proxy that frames it otherwise. waitress would read `Content-Length` with
    `Transfer-Encoding: chunked` as chunked and keep the connection open, accept `chunked,
    chunked`, join repeated headers and unfold continued lines. Each refusal closes the
    connection: nothing sent after it on the connection is read as a request."""
    first, _, rest = header_plus.partition(b"\r\n")
    lines = [line for line in rest.split(b"\r\n") if line]
    if any(line[:1] in (b" ", b"\t") for line in lines):
        raise ParsingError("a header line continued on the next (obs-fold): send each on one line")
    fields: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        fields.setdefault(name.strip().lower(), []).append(value.strip(b" \t"))
    lengths = fields.get(b"content-length", [])
    codings = fields.get(b"transfer-encoding", [])
    if len(lengths) > 1:
        raise ParsingError("Content-Length given more than once")
    if len(codings) > 1:
        raise ParsingError("Transfer-Encoding given more than once")
    if lengths and codings:
        raise ParsingError("both Content-Length and Transfer-Encoding: send one of them")
    if codings and first.rstrip().endswith(b"HTTP/1.0"):
        raise ParsingError("Transfer-Encoding in an HTTP/1.0 request: send Content-Length")
    if codings and codings[0].lower() != b"chunked":
        raise ParsingError(
            f"Transfer-Encoding must be chunked, alone: not {codings[0].decode('latin-1')!r}"
        )


# Bytes on the wire per byte of a chunked body, at most: 1-byte chunks take 6 ("1\r\nx\r\n").
FRAMING_ALLOWANCE = 8


class _QuietLog:
    """At most one warning per client address a minute, saying how many were held back: an
    attacker opening thousands of connections must not fill the log as well."""

    INTERVAL = 60
    MAX_ADDRESSES = 10_000

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, address: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(address)
            if last is not None and now - last < self.INTERVAL:
                self._held[address] = self._held.get(address, 0) + 1
                return
            if len(self._last) >= self.MAX_ADDRESSES:
                self._last.clear()
            self._last[address] = now
            held = self._held.pop(address, 0)
        if held:
            message += f" ({held} more like it from this address in the last minute)"
        log.warning("%s", message)


class MissingCredentials(Error):
    code = 401
    reason = "Unauthorized"


class JSONErrorChannel(HTTPChannel):
    """A waitress connection that answers its errors in JSON, reads requests with
    `RequestParser`, and does not let a slow client hold it: see `EdgePolicy`."""

    error_task_class = JSONErrorTask
    task_class = KeepAliveTask
    parser_class = RequestParser

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        # Normalised once: every later accept compares it with its own.
        self.peer = normalized_address(addr[0]) if addr else ""
        super().__init__(server, sock, addr, adj, map)
        self._request_started = time.monotonic()
        refusal = server.edge.refusal(self)
        if refusal:
            server.edge.log.warning(addr[0], f"connection from {addr[0]} refused: {refusal}")
            self.will_close = True
            self.handle_close()

    def send_continue(self) -> None:
        """`100 Continue` only to a request whose bearer credential is the token or a stored
        key: one without, or with another, is answered 401 at once and its body is never read
        (the connection is closed after). Its scope and address are judged with the request."""
        authorization = self.request.headers.get("AUTHORIZATION", "")
        scheme, _, credential = authorization.strip().partition(" ")
        error = MissingCredentials
        if not authorization:
            refusal = "missing Authorization header: send 'Bearer <token>'"
        elif "," in authorization:  # two headers, joined by waitress: as the app says, 400
            refusal, error = (
                "Authorization header given more than once: send one credential",
                BadRequest,
            )
        elif scheme.lower() != "bearer" or not credential.strip():
            refusal = "Authorization header must be 'Bearer <token>'"
        else:
            try:
                known = credential_known(credential.strip(), self.server.edge.token)
            except Exception:  # a database fault: the request reports it, with its body
                known = True
            refusal = None if known else "invalid token"
        if refusal is None:
            super().send_continue()
            return
        self.request.expect_continue = False
        self.request.error = error(refusal)
        self.request.completed = True
        if not self._receiving:
            # Called by waitress's service loop once the requests before it were answered
            # (under its requests lock, none left queued): queue this one, as `received`
            # would have.
            self.requests.append(self.request)
            self.request = None
            self.server.add_task(self)

    _receiving = False

    def received(self, data) -> bool:
        if self.request is None and data:
            self._request_started = time.monotonic()  # a new request begins
        self._receiving = True
        try:
            return super().received(data)
        finally:
            self._receiving = False

    # While a server thread is in write_soon it holds the output lock and sends the answer
    # itself (waitress's send_bytes is 1). The serving loop, told the connection was writable,
    # could only fail to take that lock and poll again at once: profiled, it spun a dozen
    # passes over every connection per request, a third of the process's CPU. It now leaves
    # the connection alone meanwhile; the task's end wakes it (waitress pulls its trigger) for
    # anything the client had no room for yet. Above the high watermark the server thread may
    # be waiting for the loop to drain the buffer, so the loop then writes as before.
    _writing = False

    def write_soon(self, data):
        self._writing = True
        try:
            return super().write_soon(data)
        finally:
            self._writing = False

    def writable(self) -> bool:
        if (
            self._writing
            and self.total_outbufs_len <= self.adj.outbuf_high_watermark
            and not (self.will_close or self.close_when_flushed)
        ):
            return False
        return super().writable()

    def readable(self) -> bool:
        # Called on every pass of the serving loop: where a request that takes too long to
        # arrive is noticed, however slowly its bytes trickle in.
        if not self.will_close and self.request is not None:
            lateness = self.server.edge.too_slow(self.request, self._request_started)
            if lateness:
                self.server.edge.log.warning(
                    self.addr[0], f"closed a connection from {self.addr[0]}: {lateness}"
                )
                self.will_close = True
        return super().readable()


@dataclass(frozen=True)
class EdgePolicy:
    """What a connection must do to be served, judged by waitress's thread before the app
    sees anything: an allowed client address (API_IP, API_IP_REGEX, for a peer that is not a
    trusted proxy), at most `connections_per_address` open connections from it, a whole
    request head within `head_timeout` seconds and its body at `min_body_rate` or faster.

    waitress alone closes a connection only after CHANNEL_TIMEOUT_SECONDS without a byte: a
    client sending one byte every few seconds kept its connection forever, and 500 of them
    (CONNECTION_LIMIT) stopped the server from accepting anyone else."""

    addresses: AddressPolicy
    token: str | None  # for `100 Continue`, which waits for a known credential
    head_timeout: float
    min_body_rate: int
    connections_per_address: int
    log: _QuietLog = field(default_factory=_QuietLog, compare=False)  # per server

    @classmethod
    def from_settings(cls, settings: Settings) -> "EdgePolicy":
        return cls(
            AddressPolicy.from_settings(settings),
            existing_token(settings),
            settings.head_timeout,
            settings.min_body_rate,
            settings.connections_per_address,
        )

    def refusal(self, channel) -> str | None:
        peer = channel.peer
        if self.addresses.trusts(peer):
            return None  # its clients are judged by the app, by their forwarded address
        if not self.addresses.allows(peer):
            return f"address {peer} is not allowed to call this API"
        same = sum(
            1
            for other in list(channel.server.active_channels.values())
            if other is not channel
            and getattr(other, "peer", None) == peer
            and not other.will_close
        )
        if same >= self.connections_per_address:
            return f"{same} connections open from it already (KENER_CONNECTIONS_PER_ADDRESS)"
        return None

    def too_slow(self, request, started: float) -> str | None:
        elapsed = time.monotonic() - started
        if not request.headers_finished:
            if elapsed > self.head_timeout:
                return f"request head not received whole within {self.head_timeout} s"
            return None
        if request.completed:
            return None
        allowed = self.head_timeout + request.body_bytes_received / self.min_body_rate
        if elapsed > allowed:
            return f"request body slower than {self.min_body_rate} bytes/s"
        return None


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
