"""The HTTP message itself, varied: how each operation's request is spelled, framed, encoded and
targeted, with the answer each variant must get.

A `Variant` changes one thing of a valid request (one dimension: the media type, the body, its
framing, the target, the headers, the method) and says whether the changed request must be
taken as the original (`accept`) or refused with a 4xx (`refuse`). The
matrix is every variant with every operation it applies to; `cases()` (a Hypothesis
strategy) combines variants of several dimensions, so that combinations nobody listed are
tried too: a combination must be accepted when all its variants are, and refused otherwise.

`rfc=True` marks what HTTP itself requires (RFC 9110, RFC 9112): judged in every profile.
The rest are the refined contract's choices (openapi.yaml), judged in the strict profile only.
"""

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from conformance.raw_http import Answer

ACCEPT, REFUSE = "accept", "refuse"


@dataclass(frozen=True)
class Context:
    """What the requests need to know about the target."""

    host: str  # the Host header value, as in the base URL
    token: str
    tag: str  # a monitor tag the target knows
    incident: int  # an existing incident's number
    marker: str  # text that only requests which must be refused carry


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # "{n}" stands for the incident's number
    query: str = ""  # a valid query, "{tag}" for the tag
    body: Callable[[Context, bool], dict] | None = None  # (context, refused) -> JSON body

    @property
    def has_path_number(self) -> bool:
        return "{n}" in self.path

    def target(self, context: Context) -> str:
        path = self.path.replace("{n}", str(context.incident))
        query = self.query.replace("{tag}", context.tag)
        return path + ("?" + query if query else "")


OPERATIONS = [
    Operation(
        "updateMonitorStatus",
        "POST",
        "/api/status",
        body=lambda c, refused: {"status": "DOWN" if refused else "UP", "latency": 1, "tag": c.tag},
    ),
    Operation("getMonitorStatus", "GET", "/api/status", query="tag={tag}"),
    Operation(
        "createIncident",
        "POST",
        "/api/incident",
        # A body: the group varies the message, not the incident (one created without a body
        # is KENER-INC-001's concern, not a variant's).
        body=lambda c, refused: {
            "title": c.marker if refused else "http: accepted",
            "body": "http",
            "tags": [c.tag],
            "isResolved": True,
        },
    ),
    Operation(
        "searchIncidents",
        "GET",
        "/api/incident",
        query="state=closed&tags={tag}&page=1&per_page=5",
    ),
    Operation("getIncident", "GET", "/api/incident/{n}"),
    Operation(
        "updateIncident",
        "PATCH",
        "/api/incident/{n}",
        body=lambda c, refused: {
            "title": c.marker if refused else "http: incident",
            "body": "http",
            "tags": [c.tag],
            "isResolved": True,
        },
    ),
    Operation(
        "addIncidentComment",
        "POST",
        "/api/incident/{n}/comment",
        body=lambda c, refused: {"body": c.marker if refused else "http: comment"},
    ),
    Operation("getIncidentComments", "GET", "/api/incident/{n}/comment"),
    Operation(
        "updateIncidentStatus",
        "POST",
        "/api/incident/{n}/status",
        body=lambda c, refused: {"isIdentified": refused},
    ),
]


@dataclass(frozen=True)
class Request:
    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes = b""
    version: bytes = b"HTTP/1.1"
    framing: str = "length"  # "length", or "chunked" with chunks of `chunk_size` bytes
    chunk_size: int = 0  # 0: one chunk
    chunk_extension: bytes = b""
    raw_lines: tuple[bytes, ...] = ()  # header lines sent as they are, after the others

    def encode(self) -> bytes:
        lines = [self.method + b" " + self.target + b" " + self.version]
        lines += [name + b": " + value for name, value in self.headers]
        lines += list(self.raw_lines)
        if self.framing == "chunked":
            lines.append(b"Transfer-Encoding: chunked")
            size = self.chunk_size or max(len(self.body), 1)
            content = b"".join(
                b"%x%s\r\n%s\r\n" % (len(piece), self.chunk_extension, piece)
                for piece in (self.body[i : i + size] for i in range(0, len(self.body), size))
            )
            content += b"0\r\n\r\n"
        else:
            if self.body or self.method in (b"POST", b"PATCH", b"PUT"):
                lines.append(b"Content-Length: %d" % len(self.body))
            content = self.body
        return b"\r\n".join(lines) + b"\r\n\r\n" + content

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_header(self, name: bytes, value: bytes) -> "Request":
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    def add_header(self, name: bytes, value: bytes) -> "Request":
        return replace(self, headers=(*self.headers, (name, value)))

    def drop_header(self, name: bytes) -> "Request":
        return replace(
            self, headers=tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        )

    def describe(self, limit: int = 400) -> str:
        text = self.encode().decode("latin-1")
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} bytes)"


def base_request(operation: Operation, context: Context, refused: bool) -> Request:
    """The operation's valid request; with `refused`, its body carries the context's marker
    (or a change that could be seen), so that a refused request that was stored shows."""
    headers = [
        (b"Host", context.host.encode()),
        (b"Authorization", b"Bearer " + context.token.encode()),
        (b"Connection", b"close"),
    ]
    body = b""
    if operation.body:
        body = json.dumps(operation.body(context, refused)).encode()
        headers.append((b"Content-Type", b"application/json"))
    return Request(
        operation.method.encode(), operation.target(context).encode(), tuple(headers), body
    )


Change = Callable[[Request, Operation, Context], Request]


def _always(_operation: Operation) -> bool:
    return True


def _with_body(operation: Operation) -> bool:
    return operation.body is not None


def _without_body(operation: Operation) -> bool:
    return operation.body is None


def _with_query(operation: Operation) -> bool:
    return bool(operation.query)


def _without_query(operation: Operation) -> bool:
    return not operation.query


def _with_number(operation: Operation) -> bool:
    return operation.has_path_number


@dataclass(frozen=True)
class Variant:
    dimension: str
    name: str
    change: Change
    outcome: str  # ACCEPT or REFUSE
    statuses: tuple[int, ...] = (400,)  # the refusals the strict profile allows
    applies: Callable[[Operation], bool] = _always
    rfc: bool = False  # required by HTTP itself: judged in every profile
    conflicts: frozenset[str] = field(default_factory=frozenset)  # variants it cannot join

    @property
    def id(self) -> str:
        return f"{self.dimension}:{self.name}"


def _content_type(value: bytes | None) -> Change:
    def change(request, _operation, _context):
        request = request.drop_header(b"Content-Type")
        return request if value is None else request.add_header(b"Content-Type", value)

    return change


def _content_type_twice(second: bytes) -> Change:
    def change(request, _operation, _context):
        return request.add_header(b"Content-Type", second)

    return change


def _body(transform: Callable[[bytes], bytes]) -> Change:
    def change(request, _operation, _context):
        return replace(request, body=transform(request.body))

    return change


def _encoded(coding: bytes, transform: Callable[[bytes], bytes] = lambda body: body) -> Change:
    def change(request, _operation, _context):
        return replace(request, body=transform(request.body)).add_header(
            b"Content-Encoding", coding
        )

    return change


def _many_keys(body: bytes) -> bytes:
    value = json.loads(body)
    value.update({f"unknown{i}": i for i in range(3000)})
    return json.dumps(value).encode()


def _body_on_get(request, _operation, _context):
    return replace(request, body=b"{}").set_header(b"Content-Type", b"application/json")


def _framing(**changes) -> Change:
    def change(request, _operation, _context):
        return replace(request, **changes)

    return change


def _expect_continue(request, _operation, _context):
    return request.add_header(b"Expect", b"100-continue")


def _path(transform: Callable[[bytes], bytes]) -> Change:
    def change(request, _operation, _context):
        path, mark, query = request.target.partition(b"?")
        return replace(request, target=transform(path) + mark + query)

    return change


def _query(transform: Callable[[bytes], bytes]) -> Change:
    def change(request, _operation, _context):
        path, _, query = request.target.partition(b"?")
        query = transform(query)
        return replace(request, target=path + (b"?" + query if query else b""))

    return change


def _number(transform: Callable[[bytes], bytes]) -> Change:
    def change(request, _operation, context):
        number = str(context.incident).encode()
        prefix = b"/api/incident/" + number
        path, mark, query = request.target.partition(b"?")
        rest = path[len(prefix) :]
        return replace(request, target=b"/api/incident/" + transform(number) + rest + mark + query)

    return change


def _absolute_form(request, _operation, context):
    return replace(request, target=b"http://" + context.host.encode() + request.target)


def _first_query_parameter_twice(query: bytes) -> bytes:
    first = query.split(b"&")[0]
    return query + b"&" + first


def _long_query(query: bytes) -> bytes:
    return (query + b"&" if query else b"") + b"padding=" + b"x" * 30_000


def _method(name: bytes, keep_body: bool = True) -> Change:
    def change(request, _operation, _context):
        if not keep_body:
            request = replace(request, body=b"").drop_header(b"Content-Type")
        return replace(request, method=name)

    return change


def _lower_case_method(request, _operation, _context):
    return replace(request, method=request.method.lower())


def _authorization(value: Callable[[Context], bytes]) -> Change:
    def change(request, _operation, context):
        return request.set_header(b"Authorization", value(context))

    return change


def _authorization_twice(second: Callable[[Context], bytes]) -> Change:
    def change(request, _operation, context):
        return request.add_header(b"Authorization", second(context))

    return change


def _rename_headers(transform: Callable[[bytes], bytes]) -> Change:
    def change(request, _operation, _context):
        return replace(request, headers=tuple((transform(k), v) for k, v in request.headers))

    return change


def _header(name: bytes, value: bytes) -> Change:
    def change(request, _operation, _context):
        return request.add_header(name, value)

    return change


def _set_header(name: bytes, value: bytes) -> Change:
    def change(request, _operation, _context):
        return request.set_header(name, value)

    return change


def _encode_letter_after_api(path: bytes) -> bytes:
    """`/api/status` as `/api/%73tatus`: the same path (RFC 3986 section 6.2.2.2)."""
    return b"/api/%%%02X" % path[5] + path[6:]


def _encode_first_value_letter(query: bytes) -> bytes:
    """`tag=earth` as `tag=%65arth`: the same value."""
    start = query.index(b"=") + 1
    return query[:start] + b"%%%02X" % query[start] + query[start + 1 :]


def _raw_line(line: bytes) -> Change:
    def change(request, _operation, _context):
        return replace(request, raw_lines=(*request.raw_lines, line))

    return change


def _without_host(request, _operation, _context):
    return request.drop_header(b"Host")


def _http_10_without_host(request, _operation, _context):
    return replace(request, version=b"HTTP/1.0").drop_header(b"Host")


def _version(version: bytes) -> Change:
    def change(request, _operation, _context):
        return replace(request, version=version)

    return change


def _many_headers(request, _operation, _context):
    for index in range(100):
        request = request.add_header(b"X-Extra-%d" % index, b"value %d" % index)
    return request


def _token(context: Context) -> bytes:
    return context.token.encode()


V = Variant
# One variant per line, as a table: fmt off.
# fmt: off
VARIANTS = [
    # -- Content-Type: media types compare without letter case; parameters may be spaced,
    # quoted or unknown (RFC 9110 section 8.3.1). The contract takes application/json in UTF-8.
    V("content-type", "upper-case", _content_type(b"APPLICATION/JSON"), ACCEPT, (), _with_body, True),
    V("content-type", "mixed-case", _content_type(b"Application/Json"), ACCEPT, (), _with_body, True),
    V("content-type", "charset", _content_type(b"application/json; charset=utf-8"), ACCEPT, (), _with_body, True),
    V("content-type", "charset-upper", _content_type(b"application/json;charset=UTF-8"), ACCEPT, (), _with_body, True),
    V("content-type", "charset-quoted", _content_type(b'application/json; charset="utf-8"'), ACCEPT, (), _with_body, True),
    V("content-type", "spaced", _content_type(b"application/json ; charset=utf-8"), ACCEPT, (), _with_body, True),
    V("content-type", "unknown-parameter", _content_type(b"application/json; profile=kener"), ACCEPT, (), _with_body),
    V("content-type", "quoted-parameter", _content_type(b'application/json; note="a;b, c"'), ACCEPT, (), _with_body),
    V("content-type", "empty-parameter", _content_type(b"application/json;"), ACCEPT, (), _with_body),
    V("content-type", "absent", _content_type(None), REFUSE, (400,), _with_body),
    V("content-type", "empty", _content_type(b""), REFUSE, (400,), _with_body),
    V("content-type", "text-plain", _content_type(b"text/plain"), REFUSE, (400,), _with_body),
    V("content-type", "form", _content_type(b"application/x-www-form-urlencoded"), REFUSE, (400,), _with_body),
    V("content-type", "merge-patch-json", _content_type(b"application/merge-patch+json"), REFUSE, (400,), _with_body),
    V("content-type", "vendor-json", _content_type(b"application/vnd.kener+json"), REFUSE, (400,), _with_body),
    V("content-type", "latin-1", _content_type(b"application/json; charset=iso-8859-1"), REFUSE, (400,), _with_body),
    V("content-type", "utf-16", _content_type(b"application/json; charset=utf-16"), REFUSE, (400,), _with_body),
    V("content-type", "no-subtype", _content_type(b"application"), REFUSE, (400,), _with_body),
    V("content-type", "longer-subtype", _content_type(b"application/jsonx"), REFUSE, (400,), _with_body),
    V("content-type", "parameter-without-value", _content_type(b"application/json; charset"), REFUSE, (400,), _with_body),
    V("content-type", "twice-same", _content_type_twice(b"application/json"), REFUSE, (400,), _with_body),
    V("content-type", "twice-different", _content_type_twice(b"text/plain"), REFUSE, (400,), _with_body),
    V("content-type", "on-get-without-body", _content_type(b"text/plain"), ACCEPT, (), _without_body),
    # -- The body: JSON text in UTF-8 (RFC 8259), unencoded, one value.
    V("body", "trailing-newline", _body(lambda b: b + b"\r\n"), ACCEPT, (), _with_body),
    V("body", "thousands-of-keys", _body(_many_keys), ACCEPT, (), _with_body),
    V("body", "identity-encoding", _encoded(b"identity"), ACCEPT, (), _with_body),
    V("body", "gzip", _encoded(b"gzip", gzip.compress), REFUSE, (400,), _with_body),
    V("body", "gzip-label-only", _encoded(b"gzip"), REFUSE, (400,), _with_body),
    V("body", "unknown-encoding", _encoded(b"x-kener"), REFUSE, (400,), _with_body),
    V("body", "byte-order-mark", _body(lambda b: b"\xef\xbb\xbf" + b), REFUSE, (400,), _with_body),
    V("body", "trailing-bytes", _body(lambda b: b + b" x"), REFUSE, (400,), _with_body),
    V("body", "two-values", _body(lambda b: b + b + b), REFUSE, (400,), _with_body),
    V("body", "json-null", _body(lambda b: b"null"), REFUSE, (400,), _with_body),
    V("body", "json-array", _body(lambda b: b"[" + b + b"]"), REFUSE, (400,), _with_body),
    V("body", "empty", _body(lambda b: b""), REFUSE, (400,), _with_body),
    V("body", "invalid-utf-8", _body(lambda b: b[:-1] + b', "x": "\xff"}'), REFUSE, (400,), _with_body),
    V("body", "on-get", _body_on_get, REFUSE, (400,), _without_body),
    # -- Framing: chunked bodies (RFC 9112 section 7.1) and 100-continue.
    V("framing", "chunked", _framing(framing="chunked"), ACCEPT, (), _with_body, True, frozenset({"headers:http-1.0"})),
    V("framing", "chunked-small", _framing(framing="chunked", chunk_size=7), ACCEPT, (), _with_body, True, frozenset({"headers:http-1.0"})),
    V("framing", "chunk-extension", _framing(framing="chunked", chunk_size=16, chunk_extension=b";kener=1"), ACCEPT, (), _with_body, True, frozenset({"headers:http-1.0"})),
    V("framing", "expect-100-continue", _expect_continue, ACCEPT, (), _with_body, True),
    # -- The request target.
    V("target", "absolute-form", _absolute_form, ACCEPT, (), _always, True),
    V("target", "encoded-unreserved", _path(_encode_letter_after_api), ACCEPT),
    V("target", "trailing-slash", _path(lambda p: p + b"/"), REFUSE, (404,)),
    V("target", "doubled-slash", _path(lambda p: p.replace(b"/api/", b"/api//", 1)), REFUSE, (404,)),
    V("target", "leading-doubled-slash", _path(lambda p: b"/" + p), REFUSE, (404,)),
    V("target", "upper-case", _path(lambda p: p.upper()), REFUSE, (404,)),
    V("target", "dot-segment", _path(lambda p: p.replace(b"/api/", b"/api/./", 1)), REFUSE, (400,)),
    V("target", "dot-dot-segment", _path(lambda p: p.replace(b"/api/", b"/api/x/../", 1)), REFUSE, (400,)),
    V("target", "encoded-dot-dot", _path(lambda p: p.replace(b"/api/", b"/api/x/%2E%2E/", 1)), REFUSE, (400,)),
    V("target", "malformed-escape-in-path", _path(lambda p: p + b"%zz"), REFUSE, (400,)),
    V("target", "fragment", _path(lambda p: p + b"#top"), REFUSE, (400,)),
    V("target", "raw-non-ascii", _path(lambda p: p + b"\xc3\xa9"), REFUSE, (400,)),
    V("target", "asterisk-form", _path(lambda p: b"*"), REFUSE, (400,)),
    V("target", "very-long", _query(_long_query), REFUSE, (400,)),
    V("target", "beyond-the-header-limit", _query(lambda q: _long_query(q) + b"x" * 70_000), REFUSE, (400,)),
    V("target", "repeated-parameter", _query(_first_query_parameter_twice), REFUSE, (400,), _with_query),
    V("target", "semicolon", _query(lambda q: q.split(b"&")[0] + b";x=1&" + b"&".join(q.split(b"&")[1:])), REFUSE, (400,), _with_query),
    V("target", "malformed-escape-in-query", _query(lambda q: q + b"&x=%zz"), REFUSE, (400,), _with_query),
    V("target", "invalid-utf-8-in-query", _query(lambda q: q.replace(b"=", b"=%ff", 1)), REFUSE, (400,), _with_query),
    V("target", "empty-value", _query(lambda q: q.split(b"=")[0] + b"=&" + b"&".join(q.split(b"&")[1:])), REFUSE, (400,), _with_query),
    V("target", "nameless-parameter", _query(lambda q: q + b"&=1"), REFUSE, (400,), _with_query),
    V("target", "empty-pairs", _query(lambda q: b"&" + q + b"&&"), ACCEPT, (), _with_query),
    V("target", "encoded-value", _query(_encode_first_value_letter), ACCEPT, (), _with_query),
    V("target", "unknown-parameter", _query(lambda q: b"kener=1"), REFUSE, (400,), _without_query),
    V("target", "empty-query", _query(lambda q: q), ACCEPT, (), _without_query),
    V("target", "encoded-slash-in-number", _number(lambda n: n + b"%2Fcomment"), REFUSE, (400,), _with_number),
    V("target", "nul-in-number", _number(lambda n: n + b"%00"), REFUSE, (400,), _with_number),
    V("target", "non-ascii-digit", _number(lambda n: b"%D9%A1"), REFUSE, (400,), _with_number),
    V("target", "leading-zeros", _number(lambda n: b"00" + n), ACCEPT, (), _with_number),
    V("target", "encoded-digit", _number(lambda n: b"%" + b"%02X" % n[0] + n[1:]), ACCEPT, (), _with_number),
    V("target", "zero", _number(lambda n: b"0"), REFUSE, (400,), _with_number),
    V("target", "huge-number", _number(lambda n: b"9" * 30), REFUSE, (400,), _with_number),
    # -- The method (RFC 9110 section 9): methods are case-sensitive tokens.
    V("method", "options", _method(b"OPTIONS", keep_body=False), REFUSE, (405,)),
    V("method", "trace", _method(b"TRACE", keep_body=False), REFUSE, (405,)),
    V("method", "head", _method(b"HEAD", keep_body=False), REFUSE, (405,)),
    V("method", "put", _method(b"PUT"), REFUSE, (405,)),
    V("method", "delete", _method(b"DELETE", keep_body=False), REFUSE, (405,)),
    V("method", "unknown-token", _method(b"FROBNICATE"), REFUSE, (405, 501)),
    V("method", "lower-case", _lower_case_method, REFUSE, (400, 405, 501)),
    # -- Headers: names without letter case; an auth scheme without letter case, its token
    # after one or more spaces (RFC 9110 section 11); Host once, and required in HTTP/1.1.
    # The scheme's letter case is judged in the strict profile only, as KENER-AUTH-009 is:
    # Kener 2.0.0's spec never spelt it out and its server matched "Bearer " exactly.
    V("headers", "lower-case-names", _rename_headers(bytes.lower), ACCEPT, (), _always, True),
    V("headers", "upper-case-names", _rename_headers(bytes.upper), ACCEPT, (), _always, True),
    V("headers", "lower-case-scheme", _authorization(lambda c: b"bearer " + _token(c)), ACCEPT, (), _always, False),
    V("headers", "spaces-in-authorization", _authorization(lambda c: b"Bearer   " + _token(c) + b"  "), ACCEPT),
    V("headers", "non-ascii-value", _header(b"X-Note", b"caf\xe9 \xff"), ACCEPT),
    V("headers", "garbage-forwarded-for", _header(b"X-Forwarded-For", b"::::, not-an-address, 999.1.1.1"), ACCEPT),
    V("headers", "underscore-name", _header(b"X_Forwarded_For", b"10.9.9.9"), ACCEPT),
    V("headers", "many-headers", _many_headers, ACCEPT),
    V("headers", "folded-line", _raw_line(b"X-Note: a\r\n folded"), REFUSE, (400,)),
    V("headers", "http-1.0", _http_10_without_host, ACCEPT, (), _always, False, frozenset({"framing:chunked", "framing:chunked-small", "framing:chunk-extension"})),
    V("headers", "authorization-twice", _authorization_twice(_token), REFUSE, (400,)),
    V("headers", "authorization-twice-different", _authorization_twice(lambda c: b"Bearer wrong-" + _token(c)), REFUSE, (400, 401)),
    V("headers", "non-ascii-authorization", _authorization(lambda c: b"Bearer \xe9" + _token(c)), REFUSE, (401,)),
    V("headers", "without-host", _without_host, REFUSE, (400,), _always, True),
    V("headers", "host-twice", _header(b"Host", b"other.example"), REFUSE, (400,), _always, True),
    V("headers", "invalid-host", _set_header(b"Host", b"bad host/name"), REFUSE, (400,), _always, True),
    V("headers", "space-before-colon", _raw_line(b"X-Note : 1"), REFUSE, (400,), _always, True),
    V("headers", "line-without-colon", _raw_line(b"X-Note"), REFUSE, (400,)),
    V("headers", "http-2.0", _version(b"HTTP/2.0"), REFUSE, (400, 505)),
]
# fmt: on


def matrix() -> list[tuple[Operation, Variant]]:
    """Every variant with every operation it applies to."""
    return [
        (operation, variant)
        for variant in VARIANTS
        for operation in OPERATIONS
        if variant.applies(operation)
    ]


# The order in which a combination's changes are made: body content first, framing last but
# for the target, headers and method, which do not depend on it.
DIMENSIONS = ["body", "content-type", "framing", "target", "headers", "method"]


@dataclass(frozen=True)
class Case:
    operation: Operation
    variants: tuple[Variant, ...]

    @property
    def outcome(self) -> str:
        refused = any(variant.outcome == REFUSE for variant in self.variants)
        return REFUSE if refused else ACCEPT

    @property
    def statuses(self) -> tuple[int, ...]:
        """The refusals allowed: any variant's (which check comes first is the server's)."""
        return tuple(sorted({s for v in self.variants if v.outcome == REFUSE for s in v.statuses}))

    @property
    def rfc(self) -> bool:
        return all(variant.rfc for variant in self.variants)

    @property
    def id(self) -> str:
        return f"{self.operation.operation_id}[{'+'.join(v.id for v in self.variants)}]"

    def request(self, context: Context) -> Request:
        request = base_request(self.operation, context, refused=self.outcome == REFUSE)
        ordered = sorted(self.variants, key=lambda v: DIMENSIONS.index(v.dimension))
        for variant in ordered:
            request = variant.change(request, self.operation, context)
        return request


def cases(max_variants: int = 4):
    """A Hypothesis strategy of `Case`s: an operation and up to `max_variants` variants of
    different dimensions that apply to it and do not conflict."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        operation = draw(st.sampled_from(OPERATIONS))
        dimensions = draw(
            st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=max_variants, unique=True)
        )
        chosen: list[Variant] = []
        for dimension in dimensions:
            options = [
                v
                for v in VARIANTS
                if v.dimension == dimension
                and v.applies(operation)
                and not any(v.id in c.conflicts or c.id in v.conflicts for c in chosen)
            ]
            if options:
                chosen.append(draw(st.sampled_from(options)))
        return Case(operation, tuple(chosen))

    return build()


# Judging an answer.

# Every status the strict contract declares: 200, 400 and 401 for the operations, 404 and 405
# outside them.
STRICT_STATUSES = {200, 400, 401, 404, 405}


def problems(case: Case, answer: Answer, strict: bool) -> list[str]:
    """What is wrong with `answer` to `case`'s request; empty when nothing is."""
    found = []
    method_unknown = any(
        v.id in ("method:unknown-token", "method:lower-case") for v in case.variants
    )
    version_unknown = any(v.id == "headers:http-2.0" for v in case.variants)
    allowed_5xx = ({501} if method_unknown else set()) | ({505} if version_unknown else set())
    if answer.status >= 500 and answer.status not in allowed_5xx:
        found.append(f"a server error for a client's request: {answer.describe()}")
        return found
    judged = strict or case.rfc
    if judged:
        refusals = case.statuses if strict else tuple(range(400, 500))
        if case.outcome == ACCEPT and answer.status != 200:
            found.append(f"expected 200, as for the plain request; got {answer.describe()}")
        elif case.outcome == REFUSE and answer.status not in refusals:
            found.append(f"expected a refusal ({_statuses(refusals)}); got {answer.describe()}")
    if strict:
        if answer.status not in STRICT_STATUSES | allowed_5xx:
            found.append(f"status {answer.status} is not one the contract declares")
        head = any(v.id == "method:head" for v in case.variants)
        if answer.status >= 400 and not head:
            found += _error_body_problems(answer)
        if answer.status == 405 and not answer.header("allow"):
            found.append("a 405 without an Allow header")
    return found


def _statuses(statuses) -> str:
    statuses = tuple(statuses)
    if statuses == tuple(range(400, 500)):
        return "a 4xx"
    return " or ".join(str(s) for s in statuses)


def _error_body_problems(answer: Answer) -> list[str]:
    if answer.media_type != "application/json":
        return [f"an error served as {answer.media_type or 'nothing'}, not application/json"]
    try:
        body = json.loads(answer.body)
    except ValueError:
        return [f"an error body that is not JSON: {answer.body[:200]!r}"]
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
        return [f'an error body that is not {{"error": "<message>"}}: {body!r}']
    return []
