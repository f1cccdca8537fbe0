"""API keys: named credentials, each with a scope, stored only as a hash.

A key is 256 random bits, so a plain SHA-256 of it cannot be reversed or guessed from the
database; no salt or slow hash is needed (those protect low-entropy passwords).
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from storage.database import Statement, reads, writes
from storage.errors import Rejected
from storage.models import ApiKey

SCOPES = ("full", "push", "read")
KEY_PREFIX = "kener_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# `last used` is kept to the minute: a key in use costs one write a minute, not one a request.
LAST_USED_RESOLUTION = 60


@dataclass(frozen=True)
class KeyInfo:
    name: str
    scope: str
    created_at: int
    last_used_at: int | None


class KeyRefused(Rejected):
    """A key operation the stored keys do not allow (a duplicate or unknown name, ...)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@writes
def create_key(name: str, scope: str, now: int) -> str:
    """Store a new key named `name`; answer the key itself, which is not kept."""
    if not NAME_PATTERN.fullmatch(name):
        raise KeyRefused(
            f"invalid key name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if scope not in SCOPES:
        raise KeyRefused(f"invalid scope {scope!r}: one of {', '.join(SCOPES)}")
    if ApiKey.select().where(ApiKey.name == name).exists():
        raise KeyRefused(f"a key named {name!r} exists already")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    ApiKey.create(name=name, scope=scope, key_hash=hash_key(key), created_at=now)
    return key


@reads
def list_keys() -> list[KeyInfo]:
    return [
        KeyInfo(row.name, row.scope, row.created_at, row.last_used_at)
        for row in ApiKey.select().order_by(ApiKey.name)
    ]


@writes
def revoke_key(name: str) -> None:
    if ApiKey.delete().where(ApiKey.name == name).execute() == 0:
        raise KeyRefused(f"no key named {name!r}")


@reads
def find_key(key: str) -> KeyInfo | None:
    """The key's record, or None when no stored key is `key`. Looked up by hash, then the
    hashes compared in constant time."""
    presented = hash_key(key)
    row = _FIND.execute(presented).fetchone()
    if row is None or not hmac.compare_digest(row[0], presented):
        return None
    return KeyInfo(*row[1:])


@writes
def mark_used(key: KeyInfo, now: int) -> None:
    """Record that `key` was used at `now`, at most once per LAST_USED_RESOLUTION."""
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        _MARK_USED.execute(now, key.name, now - LAST_USED_RESOLUTION)


_FIND = Statement(
    "SELECT key_hash, name, scope, created_at, last_used_at FROM api_key WHERE key_hash = {p}"
)
_MARK_USED = Statement(
    "UPDATE api_key SET last_used_at = {p} "
    "WHERE name = {p} AND (last_used_at IS NULL OR last_used_at <= {p})"
)
