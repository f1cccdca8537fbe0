"""Deliberately broken variants of this project's server. `tests/test_conformance_faults.py`
serves each and checks that the conformance suite reports the fault by the test that should.

A fault is either a patch of the server's code, applied before the app is built, or an ASGI
middleware around the app that bends requests or answers on their way. The suite knows
nothing of these: it judges the broken server by its URL like any other.
"""

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode

import pytest

import handlers.incidents
import kener_api.auth
import storage
import storage.incidents
import storage.status
from storage.models import DataPoint


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    middleware: Callable | None = None  # (ASGI app, the server's token) -> ASGI app


class Answer(Exception):
    """Raised by a request change to answer at once, without the app."""

    def __init__(self, status: int, body: bytes, headers: list | None = None) -> None:
        self.status, self.body = status, body
        self.headers = headers or [(b"content-type", b"application/json")]


class Rewrite:
    """An ASGI middleware that may change each request (headers, query, body) and each answer
    (status, headers, body) of the app it wraps."""

    def __init__(self, app, request=None, response=None) -> None:
        self.app, self.change_request, self.change_response = app, request, response

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if self.change_request:
            try:
                scope, body = self.change_request(dict(scope), body)
            except Answer as answer:
                await send(
                    {
                        "type": "http.response.start",
                        "status": answer.status,
                        "headers": answer.headers,
                    }
                )
                await send({"type": "http.response.body", "body": answer.body})
                return
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        start, chunks = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        status, headers, answer = start["status"], list(start.get("headers", [])), b"".join(chunks)
        if self.change_response:
            status, headers, answer = self.change_response(scope, status, headers, answer)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def middleware(request=None, response=None):
    return lambda app, token: Rewrite(app, request, response)


def _header(scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == name), None)


def _set_header(scope, name: bytes, value: bytes) -> dict:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != name]
    return {**scope, "headers": [*headers, (name, value)]}


def _json_answer(change):
    """Change the decoded JSON of every JSON answer."""

    def response(scope, status, headers, body):
        try:
            value = json.loads(body)
        except ValueError:
            return status, headers, body
        return status, headers, json.dumps(change(scope, status, value)).encode()

    return response


# --- The faults ----------------------------------------------------------------------------


def _problem_json(scope, status, headers, body):
    if status >= 400:
        headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
        headers.append((b"content-type", b"application/problem+json"))
    return status, headers, body


def _500_on_malformed_json(scope, body):
    if body:
        try:
            json.loads(body)
        except ValueError:
            raise Answer(500, b'{"error": "SyntaxError"}') from None
    return scope, body


def _numbers_as_text_coerced(scope, body):
    """Kener 2.0.0 took `"latency": "100"` (and stored text): a push's latency written as a
    decimal string is taken as the number it spells."""
    if scope["method"] == "POST" and scope["path"] == "/api/status" and body:
        try:
            value = json.loads(body)
        except ValueError:
            return scope, body
        latency = value.get("latency") if isinstance(value, dict) else None
        if isinstance(latency, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", latency):
            value["latency"] = float(latency)
            body = json.dumps(value).encode()
            scope = _set_header(scope, b"content-length", str(len(body)).encode())
    return scope, body


def _auth_ignored_on_get_incident(app, token):
    def change(scope, body):
        if scope["method"] == "GET" and re.fullmatch(r"/api/incident/[^/]+", scope["path"]):
            scope = _set_header(scope, b"authorization", f"Bearer {token}".encode())
        return scope, body

    return Rewrite(app, request=change)


def _bare_token_accepted(scope, body):
    value = _header(scope, b"authorization")
    if value and b" " not in value.strip():
        scope = _set_header(scope, b"authorization", b"Bearer " + value.strip())
    return scope, body


def _state_ignored(scope, body):
    if scope["path"] == "/api/incident" and scope["method"] == "GET":
        query = b"&".join(
            part for part in scope["query_string"].split(b"&") if not part.startswith(b"state=")
        )
        scope = {**scope, "query_string": query}
    return scope, body


def _encoded_slash_decoded(scope, body):
    # Routing on the percent-decoded path, as waitress's PATH_INFO is.
    raw = scope.get("raw_path")
    if raw and b"%2f" in raw.lower():
        scope = {**scope, "raw_path": unquote_to_bytes(raw)}
    return scope, body


def _last_query_value_wins(scope, body):
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    last = dict(pairs)
    if len(last) < len(pairs):
        scope = {**scope, "query_string": urlencode(last).encode()}
    return scope, body


def _trailing_slash_redirect(scope, body):
    path = scope.get("raw_path") or scope["path"].encode()
    if len(path) > 1 and path.endswith(b"/"):
        location = b"http://" + (_header(scope, b"host") or b"localhost") + path.rstrip(b"/")
        raise Answer(307, b"", [(b"location", location)])
    return scope, body


def _content_type_compared_as_text(scope, body):
    value = _header(scope, b"content-type")
    if body and value is not None and value != b"application/json":
        raise Answer(400, b'{"error": "Content-Type must be application/json"}')
    return scope, body


def _host_optional(scope, body):
    if _header(scope, b"host") is None:
        scope = _set_header(scope, b"host", b"localhost")
    return scope, body


def _first_write_wins(tag, status, latency, timestamp):
    minute = storage.status.floor_to_minute(
        timestamp if timestamp is not None else storage.catalog.now()
    )
    with storage.models.database.connection_context():
        storage.catalog.monitor(tag)
        DataPoint.insert(
            tag=tag, minute=minute, status=status, latency=latency
        ).on_conflict_ignore().execute()
    return minute


def _four_decimals(up, total):
    return "-" if total == 0 else f"{100 * up / total:.4f}"


def _tags_as_and(original):
    def search(filters):
        if len(filters.tags) < 2:
            return original(filters)
        everything = dataclasses.replace(filters, page=1, per_page=10**9)
        per_tag = [
            {i.number for i in original(dataclasses.replace(everything, tags=[tag]))}
            for tag in filters.tags
        ]
        keep = set.intersection(*per_tag)
        found = [
            i
            for i in original(dataclasses.replace(everything, tags=filters.tags[:1]))
            if i.number in keep
        ]
        first = (filters.page - 1) * filters.per_page
        return found[first : first + filters.per_page]

    return search


def _patch_merges(incident_number, body):
    current = handlers.incidents.get_incident(incident_number)
    merged = {
        key: current[key]
        for key in (
            "title",
            "body",
            "tags",
            "impact",
            "startDatetime",
            "endDatetime",
            "isMaintenance",
            "isIdentified",
            "isResolved",
        )
        if key in current
    }
    return handlers.incidents._incident_json(
        storage.replace_incident(incident_number, handlers.incidents._content({**merged, **body}))
    )


def _status_update_reopens(incident_number, body):
    # As if a flag left out were false: a body without isResolved reopens the incident.
    return handlers.incidents._incident_json(
        storage.update_incident_status(
            incident_number,
            is_identified=body.get("isIdentified"),
            is_resolved=body.get("isResolved", False),
            end_datetime=body.get("endDatetime"),
        )
    )


def _allows_matching_at_the_start(self, address):
    if not self.restricted or address in self.allowed_ips:
        return True
    return self.allowed_pattern is not None and bool(self.allowed_pattern.match(address))


def _unknown_incident_404(scope, status, headers, body):
    if status == 400 and b"not found" in body:
        status = 404
    return status, headers, body


def _without_created_at(scope, status, value):
    def strip(item):
        if isinstance(item, dict) and "incidentNumber" in item:
            item = {k: v for k, v in item.items() if k != "createdAt"}
        return item

    return [strip(i) for i in value] if isinstance(value, list) else strip(value)


def _comments_newest_first(scope, status, value):
    if scope["path"].endswith("/comment") and isinstance(value, list):
        return value[::-1]
    return value


FAULTS = [
    Fault(
        "problem-json",
        "error bodies served as application/problem+json",
        middleware=middleware(response=_problem_json),
    ),
    Fault(
        "500-on-malformed-json",
        "malformed JSON answered 500",
        middleware=middleware(request=_500_on_malformed_json),
    ),
    Fault(
        "auth-ignored-get-incident",
        "GET /api/incident/{n} answers without a token",
        middleware=_auth_ignored_on_get_incident,
    ),
    Fault(
        "latency-text-accepted",
        'a latency written as text ("100") is taken as a number',
        middleware=middleware(request=_numbers_as_text_coerced),
    ),
    Fault(
        "bare-token",
        "a bare token (no Bearer) is accepted",
        middleware=middleware(request=_bare_token_accepted),
    ),
    Fault(
        "minutes-not-floored",
        "timestamps are not floored to the minute",
        patch=lambda mp: mp.setattr(storage.status, "floor_to_minute", lambda s: s),
    ),
    Fault(
        "first-write-wins",
        "a second push for a minute is ignored",
        patch=lambda mp: mp.setattr(storage, "record_status", _first_write_wins),
    ),
    Fault(
        "uptime-4-decimals",
        'uptime always has 4 decimals ("50.0000")',
        patch=lambda mp: mp.setattr(storage.status, "format_uptime", _four_decimals),
    ),
    Fault(
        "state-ignored",
        "the search's state filter is ignored",
        middleware=middleware(request=_state_ignored),
    ),
    Fault(
        "tags-and",
        "the search's tags filter needs all tags (AND)",
        patch=lambda mp: mp.setattr(
            storage, "search_incidents", _tags_as_and(storage.search_incidents)
        ),
    ),
    Fault(
        "patch-merges",
        "PATCH merges into the incident instead of replacing it",
        patch=lambda mp: mp.setattr(handlers.incidents, "update_incident", _patch_merges),
    ),
    Fault(
        "closed-at-unset",
        "closedAt stays null when an incident is resolved",
        patch=lambda mp: mp.setattr(storage.incidents, "_closed_at", lambda i, r: None),
    ),
    Fault(
        "status-update-reopens",
        "a status update without isResolved (only isIdentified, say) reopens a resolved incident",
        patch=lambda mp: mp.setattr(
            handlers.incidents, "update_incident_status", _status_update_reopens
        ),
    ),
    Fault(
        "unknown-incident-404",
        "an unknown incident is answered 404 (undeclared)",
        middleware=middleware(response=_unknown_incident_404),
    ),
    Fault(
        "no-created-at",
        "incidents are answered without the required createdAt",
        middleware=middleware(response=_json_answer(_without_created_at)),
    ),
    Fault(
        "comments-newest-first",
        "comments are listed newest first",
        middleware=middleware(response=_json_answer(_comments_newest_first)),
    ),
    Fault(
        "encoded-slash-routed",
        "an encoded slash in a path parameter is routed as a slash: /api/incident/4%2Fcomment "
        "answers the comments of incident 4",
        middleware=middleware(request=_encoded_slash_decoded),
    ),
    Fault(
        "last-query-value-wins",
        "a query parameter given twice is taken at its last value",
        middleware=middleware(request=_last_query_value_wins),
    ),
    Fault(
        "trailing-slash-redirect",
        "a trailing slash is answered with an empty 307 redirect",
        middleware=middleware(request=_trailing_slash_redirect),
    ),
    Fault(
        "content-type-compared-as-text",
        "Content-Type is compared as text: APPLICATION/JSON or a charset parameter is refused",
        middleware=middleware(request=_content_type_compared_as_text),
    ),
    Fault(
        "host-optional",
        "an HTTP/1.1 request without Host is served",
        middleware=middleware(request=_host_optional),
    ),
]


# Faults the suite cannot judge: it knows a target by its URL and token, not by its
# configuration, so it cannot tell which client addresses should have been let in. This
# project's own tests catch these: `tests/test_security.py`, by the test named in each
# description.
IP_REGEX_PREFIX = Fault(
    "ip-regex-prefix",
    "API_IP_REGEX matched only at the start of the client address (re.match, not searched "
    "anywhere in it as Kener's RegExp.test did): caught by tests/test_security.py::"
    "test_the_allow_list_tests_catch_a_pattern_matched_only_at_the_start",
    patch=lambda mp: mp.setattr(
        kener_api.auth.AddressPolicy, "allows", _allows_matching_at_the_start
    ),
)
