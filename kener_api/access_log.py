"""The access log: one JSON object per request on the `kener_api.access` logger.

It never holds a credential: headers are not logged, and anything in the path or query that
is the API token or looks like an API key is replaced by "[redacted]"."""

import json
import logging
import re
import time
from urllib.parse import unquote

log = logging.getLogger("kener_api.access")

REDACTED = "[redacted]"
# Where the security handler leaves which credential was accepted (never the credential).
CREDENTIAL_KEY = "kener_credential"
_KEY_PATTERN = re.compile(r"kener_[A-Za-z0-9_-]{20,}")


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
        log.info(json.dumps(entry, ensure_ascii=False))

    def _redact(self, text: str) -> str:
        if self.token and self.token in text:
            text = text.replace(self.token, REDACTED)
        return _KEY_PATTERN.sub(REDACTED, text)
