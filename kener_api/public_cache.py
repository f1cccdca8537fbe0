"""Whole answers of the public pages, badges and feeds, kept in memory while the data they show
and the minute stay the same, each with a strong entity tag: a request for a kept answer costs
one read of the data version, and a client that holds the answer already (`If-None-Match`) is
answered `304 Not Modified` without a body.

An answer is kept under its operation, its parsed parameters (defaults filled in: `?style=flat`
and no `style` are one answer) and what else its handler says it depends on (`varies`: the
feeds' base URL, which is the request's host when no site URL is set). It is used only while
both of these are what it was built for:
- storage.data_version(), read before the handler reads any data: an answer built from data
  that a concurrent write changed meanwhile carries the older version, so the next request,
  which reads the newer one, builds it again;
- the minute of the settings' clock (storage.catalog.now()): the day cells, the uptime
  windows and the incidents listed move with it.
A newer answer replaces the older one under the same key: no memory is held by answers no
request can use any more (every write changes the version of every answer).

The entity tag is a hash of the body: two server processes with the same data give the same
tag, so a client may be sent to either behind a load balancer.
"""

import base64
import contextlib
import functools
import hashlib
import inspect
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import cachetools
from connexion import request
from connexion.lifecycle import ConnexionResponse

import storage

# Keys come from anyone (query strings, the Host header), so the answers are bounded by their
# bytes, the least recently used dropped first. The status page of 10 monitors is about 190 KB,
# a badge about 1 KB. Flooded with distinct query strings, a server holds about 6 MB more
# resident memory than without the cache (measured; 11 MB with 8 MiB).
MAX_BYTES = 4 * 2**20
# What an entry costs beyond its body, headers and key texts (the objects holding them).
ENTRY_OVERHEAD = 1024
MINUTE = 60


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer as sent, with its entity tag (among its headers), and what it was built
    for: the data version and the minute."""

    built_for: tuple
    body: bytes
    content_type: str
    headers: dict[str, str]
    etag: str
    size: int  # bytes it holds, counted against MAX_BYTES

    @classmethod
    def of(cls, response: ConnexionResponse, key: tuple, built_for: tuple) -> "Answer":
        body = response.body
        # 144 bits: a collision between two bodies is out of reach.
        digest = hashlib.sha256(body).digest()[:18]
        etag = '"' + base64.urlsafe_b64encode(digest).decode("ascii") + '"'
        headers = {**response.headers, "ETag": etag}
        texts = sum(len(name) + len(value) for name, value in headers.items())
        size = len(body) + texts + len(repr(key)) + ENTRY_OVERHEAD
        return cls(built_for, body, response.content_type, headers, etag, size)

    def response(self) -> ConnexionResponse:
        return ConnexionResponse(
            status_code=200,
            body=self.body,
            content_type=self.content_type,
            headers=dict(self.headers),
        )

    def not_modified(self) -> ConnexionResponse:
        # RFC 9110 15.4.5: the validator and caching headers a 200 would carry, nothing about
        # a body.
        return ConnexionResponse(
            status_code=304,
            headers={"ETag": self.etag, "Cache-Control": self.headers["Cache-Control"]},
        )


class AnswerCache:
    """Answers by key, at most `max_bytes` of them (Answer.size), shared by the server's
    threads."""

    def __init__(self, max_bytes: int) -> None:
        self._answers = cachetools.LRUCache(max_bytes, getsizeof=lambda answer: answer.size)
        self._lock = threading.Lock()  # cachetools' caches are not safe between threads

    def get(self, key: tuple) -> Answer | None:
        with self._lock:
            return self._answers.get(key)

    def put(self, key: tuple, answer: Answer) -> None:
        # An answer larger than the whole cache (ValueError) is sent, not kept.
        with self._lock, contextlib.suppress(ValueError):
            self._answers[key] = answer

    @property
    def bytes_held(self) -> int:
        return self._answers.currsize

    @property
    def max_bytes(self) -> int:
        return self._answers.maxsize

    def __len__(self) -> int:
        return len(self._answers)


answers = AnswerCache(MAX_BYTES)


def cached(varies: Callable[..., object] | None = None):
    """Decorate a public handler that answers 200 or raises: its answers are kept (see the
    module's description) and tagged, and answered 304 when `If-None-Match` names the tag.

    `varies(now, **arguments)`, given, names what else the answer depends on: it joins the key.
    """

    def decorate(handler):
        signature = inspect.signature(handler)
        operation = handler.__name__

        # Connexion reads the handler's parameters through functools.wraps' __wrapped__.
        @functools.wraps(handler)
        def answer(**arguments):
            version = storage.data_version()  # before any data is read: see above
            now = storage.catalog.now()
            built_for = (version, now // MINUTE)
            bound = signature.bind(**arguments)
            bound.apply_defaults()
            extra = varies(now, **bound.arguments) if varies else None
            key = (operation, tuple(bound.arguments.items()), extra)
            found = answers.get(key)
            if found is None or found.built_for != built_for:
                response = handler(**arguments)
                if response.status_code != 200:
                    return response
                found = Answer.of(response, key, built_for)
                answers.put(key, found)
            if none_match(request.headers.getlist("if-none-match"), found.etag):
                return found.not_modified()
            return found.response()

        return answer

    return decorate


# One member of an entity-tag list (RFC 9110 8.8.3, 5.6.1): optional whitespace, an optional
# entity tag (`W/` for weak), optional whitespace, then a comma or the end.
_MEMBER = re.compile(r'[ \t]*(?:(?:W/)?("[\x21\x23-\x7e\x80-\xff]*"))?[ \t]*(?:,|\Z)')


def none_match(fields: list[str], etag: str) -> bool:
    """Whether `If-None-Match` (its field lines, in order) names `etag`: it is `*`, or a list
    one of whose tags has the same opaque tag, `W/` or not (the weak comparison RFC 9110
    13.1.2 asks for). A value that is not such a list names nothing: the client then gets
    the whole answer, which is always right."""
    value = ", ".join(fields).strip(" \t")  # several lines are one list (RFC 9110 5.3)
    if value == "*":
        return True
    position, named = 0, False
    while position < len(value):
        member = _MEMBER.match(value, position)
        if member is None or member.end() == position:
            return False
        named = named or member.group(1) == etag
        position = member.end()
    return named
