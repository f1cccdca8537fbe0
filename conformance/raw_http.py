"""A raw HTTP/1.1 client: the request goes out byte for byte as written (no client library
normalises its header names, target or framing), and the answer is parsed from the bytes that
come back."""

import contextlib
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    interim: list[int] = field(default_factory=list)  # 1xx statuses received before it

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def describe(self, limit: int = 300) -> str:
        text = self.body[:limit].decode("utf-8", errors="replace")
        return f"{self.status} {self.reason} {self.media_type or '(no Content-Type)'} {text!r}"


class NoAnswer(AssertionError):
    """The server closed the connection, or went silent, without a complete answer."""


def exchange(base_url: str, request: bytes, timeout: float = 30) -> Answer:
    """Send `request` to the server at `base_url` on a new connection; answer its response."""
    url = urlsplit(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    with socket.create_connection((url.hostname, port), timeout=timeout) as raw:
        sock = raw
        if url.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=url.hostname)
        # The server may answer before reading everything, then close: read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return _read_answer(sock, bodiless=request.startswith(b"HEAD "))


def _read_answer(sock, bodiless: bool) -> Answer:
    data = b""
    interim = []
    while True:
        while b"\r\n\r\n" not in data:
            data = _more(sock, data, "the status line and headers")
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise NoAnswer(f"not an HTTP status line: {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        status = int(code)
        if 100 <= status < 200:
            interim.append(status)
            continue
        answer = Answer(status, reason, headers, b"", interim)
        break
    length = answer.header("content-length")
    if bodiless or answer.status in (204, 304):
        return answer  # no body, whatever the headers say (RFC 9112 section 6.3)
    if (answer.header("transfer-encoding") or "").lower().endswith("chunked"):
        answer.body = _read_chunked(sock, data)
    elif length is not None:
        size = int(length)
        while len(data) < size:
            data = _more(sock, data, f"a body of {size} bytes")
        answer.body = data[:size]
    else:
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        answer.body = data
    return answer


def _more(sock, data: bytes, waiting_for: str) -> bytes:
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError:
        chunk = b""
    except TimeoutError:
        raise NoAnswer(f"no answer within the timeout, waiting for {waiting_for}") from None
    if not chunk:
        raise NoAnswer(f"connection closed waiting for {waiting_for} (received {data[:200]!r})")
    return data + chunk


def _read_chunked(sock, data: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in data:
            data = _more(sock, data, "a chunk size")
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return body
        while len(data) < size + 2:
            data = _more(sock, data, "a chunk")
        body += data[:size]
        data = data[size + 2 :]
