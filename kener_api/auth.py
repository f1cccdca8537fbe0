"""Who may call the API: the client's address (API_IP, API_IP_REGEX, TRUSTED_PROXIES), then its
bearer credential (API_TOKEN or a stored API key, whose scope limits the operations).

It never fails open: without a configured token, one is generated and kept in the data
directory. Every refusal is a 401 whose message says why.
"""

import hmac
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import peewee
from connexion.exceptions import OAuthProblem
from connexion.security import BearerSecurityHandler

import storage
from kener_api.access_log import CREDENTIAL_KEY
from kener_api.settings import Settings

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "api-token"
# The one operation a `push` key may call: updateMonitorStatus.
PUSH_OPERATION = ("POST", "/api/status")


def resolve_token(settings: Settings) -> str:
    """The configured token; else the one stored in the data directory, created (readable by
    its owner only) and announced on the first start."""
    if settings.api_token:
        return settings.api_token
    path = settings.data_dir / TOKEN_FILE_NAME
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    return _generate_token(path)


def _generate_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    os.chmod(path, 0o600)  # in case the file existed, empty, with wider rights
    log.warning("No API_TOKEN set: generated an API token, stored in %s: %s", path, token)
    return token


@dataclass(frozen=True)
class AddressPolicy:
    """Which client addresses may call the API, and whom to believe about the address."""

    allowed_ips: frozenset = frozenset()
    allowed_pattern: object = None  # a compiled API_IP_REGEX, or None
    trusted_proxies: tuple = ()  # ip_network objects

    @classmethod
    def from_settings(cls, settings: Settings) -> "AddressPolicy":
        return cls(
            frozenset(settings.api_ip),
            settings.api_ip_regex,
            tuple(settings.trusted_proxies),
        )

    @property
    def restricted(self) -> bool:
        return bool(self.allowed_ips or self.allowed_pattern)

    def refusal(self, scope) -> str | None:
        """Why the request's client may not call the API, or None when it may."""
        if not self.restricted:
            return None
        try:
            address = self.client_address(scope)
        except ValueError as exc:
            return f"client address unknown: {exc}"
        if address in self.allowed_ips:
            return None
        # As Kener did: the pattern may match anywhere in the address; anchor it to match all.
        if self.allowed_pattern is not None and self.allowed_pattern.search(address):
            return None
        return f"address {address} is not allowed to call this API"

    def client_address(self, scope) -> str:
        """The socket's peer; when that is a trusted proxy, the address it reports: the last
        X-Forwarded-For entry that is not itself a trusted proxy (the entries before it were
        written by the client and prove nothing), else X-Real-IP."""
        peer = (scope.get("client") or ("",))[0]
        if not self.trusted_proxies or not self._trusted(peer):
            return peer
        headers = _headers(scope)
        forwarded = [
            entry.strip()
            for value in headers.get(b"x-forwarded-for", [])
            for entry in value.split(",")
        ]
        for entry in reversed(forwarded):
            if not entry:
                raise ValueError("an empty X-Forwarded-For entry")
            address = _parse_address(entry, "X-Forwarded-For")
            if not self._trusted(address):
                return address
        if forwarded:  # every hop a trusted proxy: the first is the client
            return _parse_address(forwarded[0], "X-Forwarded-For")
        real_ip = headers.get(b"x-real-ip")
        if real_ip:
            return _parse_address(real_ip[-1].strip(), "X-Real-IP")
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def _headers(scope) -> dict[bytes, list[str]]:
    headers: dict[bytes, list[str]] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.lower(), []).append(value.decode("latin-1"))
    return headers


def _parse_address(text: str, header: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{header} entry {text!r} is not an IP address") from None


def bearer_handler(token: str, addresses: AddressPolicy) -> type:
    """A connexion security handler class for `bearerAuth`: the client's address must be
    allowed, then the credential must be `token` or a stored API key whose scope allows the
    operation."""
    expected = token.encode("utf-8")

    class TokenBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme, required_scopes):
            async def verify(request):
                refusal = addresses.refusal(request.scope)
                if refusal:
                    raise OAuthProblem(detail=refusal)
                header = request.headers.get("Authorization")
                if not header:
                    raise OAuthProblem(detail="missing Authorization header: send 'Bearer <token>'")
                scheme, _, credentials = header.strip().partition(" ")
                credentials = credentials.strip()
                if scheme.lower() != "bearer" or not credentials:
                    raise OAuthProblem(detail="Authorization header must be 'Bearer <token>'")
                # Constant time: the comparison does not reveal how much of the token matched.
                if hmac.compare_digest(credentials.encode("utf-8"), expected):
                    _record_credential(request.scope, "api-token")
                    return {"sub": "api-token"}
                key = storage.keys.find_key(credentials)
                if key is None:
                    raise OAuthProblem(detail="invalid token")
                refusal = _scope_refusal(key, request.scope)
                if refusal:
                    raise OAuthProblem(detail=refusal)
                try:
                    storage.keys.mark_used(key, storage.catalog.now())
                except peewee.DatabaseError as exc:
                    # A read-only or full database must not refuse a valid key: only its
                    # "last used" goes unrecorded.
                    log.warning("could not record the use of key %r: %s", key.name, exc)
                _record_credential(request.scope, f"key:{key.name}")
                return {"sub": key.name}

            return verify

    return TokenBearerHandler


def _record_credential(scope, name: str) -> None:
    """Which credential was accepted, by name, for the access log."""
    scope.setdefault("extensions", {})[CREDENTIAL_KEY] = name


def _scope_refusal(key: "storage.keys.KeyInfo", scope) -> str | None:
    method = scope["method"]
    if key.scope == "push" and (method, scope["path"]) != PUSH_OPERATION:
        allows = "POST /api/status only"
    elif key.scope == "read" and method != "GET":
        allows = "GET operations only"
    else:
        return None
    return (
        f"key {key.name!r} has scope {key.scope}, which allows {allows}, "
        f"not {method} {scope['path']}"
    )
