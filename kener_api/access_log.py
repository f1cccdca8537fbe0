"""The access log: one JSON object per request on the `kener_api.access` logger.

It never holds a credential: headers are not logged, and anything in the path or query that
is the API token or looks like an API key is replaced by "[redacted]"."""

import json
import logging
import re
import time
from urllib.parse import unquote

import orjson

log = logging.getLogger("kener_api.access")

REDACTED = "[redacted]"
# Probes and scrapers ask these every few seconds: logged at DEBUG only, or they would fill
# the log.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Where the security handler leaves which credential was accepted (never the credential).
CREDENTIAL_KEY = "kener_credential"
# An API key is `kener_` and 43 URL-safe characters; the secret alone, or another long token,
# is redacted too: whatever its prefix, a run of 32 or more such characters is a credential
# more often than it is a monitor tag.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,}")
# What str.splitlines() and log readers take for a line end, but "\n" (tracebacks have it).
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every Unicode line separator escaped, so that a path cannot start a log line
    of its own."""
    return _LINE_BREAKS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class AccessLog:
    def __init__(self, app, token: str, client_address) -> None:
        self.app = app
        self.token = token
        # The client's address as the allow-list judges it (kener_api.auth.AddressPolicy).
        self.client_address = client_address

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = {"status": 500, "bytes": 0}

        async def recording_send(message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self._write(scope, answer, time.perf_counter() - started)

    def _write(self, scope, answer: dict, seconds: float) -> None:
        try:
            client = self.client_address(scope)
        except ValueError:
            client = None
        entry = {
            "method": scope["method"],
            "path": self._redact(scope["path"]),
            "query": self._redact(unquote(scope.get("query_string", b"").decode("latin-1"))),
            "status": answer["status"],
            "bytes": answer["bytes"],
            "ms": round(seconds * 1000, 2),
            "client": client,
            "peer": (scope.get("client") or (None,))[0],
            "credential": scope.get("extensions", {}).get(CREDENTIAL_KEY),
        }
        level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
        try:
            text = orjson.dumps(entry).decode()
        except TypeError:  # text orjson will not encode (a lone surrogate): the slower encoder
            text = json.dumps(entry, ensure_ascii=False)
        log.log(level, one_line(text))

    def _redact(self, text: str) -> str:
        if self.token and self.token in text:
            text = text.replace(self.token, REDACTED)
        return _KEY_PATTERN.sub(REDACTED, text)


class OneLineFormatter(logging.Formatter):
    """The server's log format, each record's text escaped by `one_line`."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))
