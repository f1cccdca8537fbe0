"""Who may call the API: the client's address (API_IP, API_IP_REGEX, TRUSTED_PROXIES), then its
bearer credential (API_TOKEN or a stored API key, whose scope limits the operations).

It never fails open: without a configured token, one is generated and kept in the data
directory. Every refusal is a 401 whose message says why.
"""

import collections
import functools
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import peewee
from connexion.exceptions import OAuthProblem
from connexion.security import BearerSecurityHandler

import storage
from kener_api.access_log import CREDENTIAL_KEY
from kener_api.request_reading import header_lists
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


def existing_token(settings: Settings) -> str | None:
    """The token clients must send, if there is one yet: configured, or stored by a start
    (`resolve_token`); never generated here."""
    if settings.api_token:
        return settings.api_token
    try:
        return (settings.data_dir / TOKEN_FILE_NAME).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def credential_known(credential: str, token: str | None) -> bool:
    """Whether `credential` is the token or a stored key (its scope and the client's address
    are judged later, by the security handler)."""
    if token is not None and hmac.compare_digest(credential.encode(), token.encode()):
        return True
    return storage.keys.find_key(credential) is not None


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
    proxy_header: str = "x-forwarded-for"  # the one header trusted proxies set

    @classmethod
    def from_settings(cls, settings: Settings) -> "AddressPolicy":
        if settings.trusted_proxies and settings.trusted_proxy_header is None:
            raise ValueError("trusted_proxies needs trusted_proxy_header")
        return cls(
            frozenset(normalized_address(address) for address in settings.api_ip),
            settings.api_ip_regex,
            tuple(settings.trusted_proxies),
            settings.trusted_proxy_header or "x-forwarded-for",
        )

    @property
    def restricted(self) -> bool:
        return bool(self.allowed_ips or self.allowed_pattern)

    def refusal(self, scope) -> str | None:
        """Why the request's client may not call the API, or None when it may."""
        return self.judge(scope)[1]

    def judge(self, scope) -> tuple[str, str | None]:
        """The client's address, read once, and why it may not call the API (or None).
        Unreadable, it is refused when there is an allow-list; without one it does not
        matter who the client is, and the peer stands for it."""
        try:
            address = self.client_address(scope)
        except ValueError as exc:
            if not self.restricted:
                return normalized_address((scope.get("client") or ("",))[0]), None
            return "", f"client address unknown: {exc}"
        if self.allows(address):
            return address, None
        return address, f"address {address} is not allowed to call this API"

    def allows(self, address: str) -> bool:
        """Whether `address` is on the allow-list (any address, when there is none)."""
        if not self.restricted or address in self.allowed_ips:
            return True
        # As Kener did: the pattern may match anywhere in the address; anchor it to match all.
        return self.allowed_pattern is not None and bool(self.allowed_pattern.search(address))

    def trusts(self, address: str) -> bool:
        """Whether `address` is a trusted proxy, whose forwarded client address is believed."""
        return bool(self.trusted_proxies) and self._trusted(address)

    def client_address(self, scope) -> str:
        """The socket's peer; when that is a trusted proxy, the address it reports in the one
        header it sets (`proxy_header`; every other is ignored, since it passes from the
        client): for X-Forwarded-For and Forwarded the last entry that is not itself a
        trusted proxy (the entries before it were written by the client and prove nothing),
        for X-Real-IP its single value."""
        peer = normalized_address((scope.get("client") or ("",))[0])
        if not self.trusted_proxies or not self._trusted(peer):
            return peer
        values = header_lists(scope.get("headers", ())).get(self.proxy_header.encode(), [])
        if not values:
            return peer
        if self.proxy_header == "x-real-ip":
            if len(values) > 1:
                raise ValueError("X-Real-IP given more than once")
            return _parse_address(values[0].strip(), "X-Real-IP")
        entries = [entry.strip() for value in values for entry in value.split(",")]
        if self.proxy_header == "forwarded":
            addresses = [_forwarded_for(entry) for entry in entries]
        else:
            addresses = [_parse_address(entry, "X-Forwarded-For") for entry in entries]
        for address in reversed(addresses):
            if not self._trusted(address):
                return address
        return addresses[0]  # every hop a trusted proxy: the first is the client

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(normalized_address(address))
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def _parse_address(text: str, header: str) -> str:
    """A forwarded address, strictly: an IPv4 or IPv6 address alone (no zone identifier, port,
    brackets or spaces, which Python's parser would partly take), IPv4-mapped IPv6 read as
    the IPv4 address it maps."""
    if not _ADDRESS_TEXT.fullmatch(text):
        raise ValueError(f"{header} entry {text!r} is not an IP address")
    try:
        return normalized_address(str(ipaddress.ip_address(text)), strict=True)
    except ValueError:
        raise ValueError(f"{header} entry {text!r} is not an IP address") from None


_ADDRESS_TEXT = re.compile(r"[0-9A-Fa-f:.]+")


def _forwarded_for(element: str) -> str:
    """The `for` node of one RFC 7239 forwarded-element: `for=192.0.2.60`,
    `for="[2001:db8::17]:4711"` (the port dropped); an obfuscated or unknown node is refused."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.strip().lower() != "for":
            continue
        node = value.strip()
        if node.startswith('"') and node.endswith('"') and len(node) > 1:
            node = node[1:-1]
        if node.startswith("["):
            address, _, rest = node[1:].partition("]")
            if rest and not re.fullmatch(r":[0-9]{1,5}", rest):
                raise ValueError(f"Forwarded node {value!r} is not an address")
        else:
            address, _, port = node.partition(":")
            if port and not port.isdigit():
                raise ValueError(f"Forwarded node {value!r} is not an address")
        return _parse_address(address, "Forwarded")
    raise ValueError(f"Forwarded element {element!r} has no for=")


# Parsing an address cost more than any other step of checking a request's credential; the
# same few peers call again and again. Bounded: addresses come from anyone.
@functools.lru_cache(maxsize=4096)
def normalized_address(text: str, strict: bool = False) -> str:
    """`::ffff:10.0.0.1` as `10.0.0.1`, so that an allow-list or a trusted proxy means the same
    address whichever socket family it came by; other text as it is (or ValueError, when
    `strict`)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if strict:
            raise
        return text
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


class FailureLimiter:
    """At most `limit` wrong credentials per client address in any `window` seconds. Past
    it, the address is refused without its credential being looked at, until its oldest
    failure in the window ages out: guessing goes at `limit` per window, not at a thousand a
    second. Memory is bounded: at most MAX_ADDRESSES addresses are tracked."""

    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int, window: float = 60, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Seconds until `address` may try again; 0 when it may now."""
        with self._lock:
            failures = self._recent(address)
            if failures is None or len(failures) < self.limit:
                return 0.0
            return max(failures[0] + self.window - self.clock(), 0.01)

    def failed(self, address: str) -> bool:
        """Record a wrong credential from `address`; True when this one reached the limit."""
        with self._lock:
            failures = self._recent(address)
            if failures is None:
                if len(self._failures) >= self.MAX_ADDRESSES:
                    self._failures.pop(next(iter(self._failures)))
                failures = self._failures[address] = collections.deque()
            failures.append(self.clock())
            return len(failures) == self.limit

    def _recent(self, address: str):
        failures = self._failures.get(address)
        if failures is not None:
            cutoff = self.clock() - self.window
            while failures and failures[0] <= cutoff:
                failures.popleft()
        return failures


def bearer_handler(token: str, addresses: AddressPolicy, failures: FailureLimiter) -> type:
    """A connexion security handler class for `bearerAuth`: the client's address must be
    allowed and not be guessing (`failures`), then the credential must be `token` or a stored
    API key whose scope allows the operation."""
    expected = token.encode("utf-8")

    class TokenBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme, required_scopes):
            async def verify(request):
                client, refusal = addresses.judge(request.scope)
                if refusal:
                    raise OAuthProblem(detail=refusal)
                wait = failures.wait(client)
                if wait:
                    raise OAuthProblem(
                        detail=f"too many wrong credentials from {client}: "
                        f"try again in {math.ceil(wait)} s"
                    )
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
                    if failures.failed(client):
                        log.warning(
                            "%d wrong credentials from %s within %d s: refusing it for now",
                            failures.limit,
                            client,
                            failures.window,
                        )
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
