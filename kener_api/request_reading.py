"""Reading a request: from the HTTP message as received to what the operations see.

Every request passes here before it is routed (`RequestReader`), and the body of every
operation that takes one is read by `json_body` once the operation is known. The rules are
those of HTTP (RFC 9110, RFC 9112, RFC 3986) and, where HTTP leaves a choice, the contract's
(openapi.yaml's description, and README "Behaviour where Kener's spec is silent"):

- what HTTP calls equivalent is accepted as equivalent: a media type's letter case, spaces
  around its parameters, a quoted `charset`, percent-encoded unreserved characters in a path;
- what is ambiguous is refused: a singleton header given twice (`Host`, `Authorization`,
  `Content-Type`), a query parameter given twice, both a fragment and a path;
- what the contract does not take is refused, saying what it takes: a body without
  `Content-Type: application/json`, another charset than UTF-8, a `Content-Encoding`, a body on
  an operation that has none, dot segments, an HTTP version other than 1.0 and 1.1.

Every refusal is a `BadRequestProblem`, answered 400 `{"error": ...}` by `kener_api.errors`.
"""

import functools
import json
import math
import re
from collections import Counter
from urllib.parse import parse_qsl, unquote_to_bytes

from connexion.exceptions import BadRequestProblem

# Longest value echoed back in an error message.
ECHO_LIMIT = 100


def refuse(message: str) -> BadRequestProblem:
    return BadRequestProblem(detail=message)


def echo(value) -> str:
    """`value` as an error message shows it: its repr, cut to ECHO_LIMIT characters."""
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


class RequestReader:
    """ASGI middleware: checks the HTTP message (version, singleton headers, content coding)
    and decodes its target into the path that is routed and the query that is validated.
    It sits inside the exception middleware, so that each refusal gets the contract's
    error answer, and before routing and authentication: a malformed request is 400 whoever
    sends it, and nothing of it has been looked at."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            # In place: the error handlers outside see the same scope, and name the path as
            # it was read.
            scope.update(read_message(scope))
        await self.app(scope, receive, send)


def read_message(scope: dict) -> dict:
    """What the message makes of the scope's path, raw_path and query_string."""
    version = scope.get("http_version", "1.1")
    if version not in ("1.0", "1.1"):
        raise refuse(f"HTTP/{version} is not supported: send HTTP/1.1 or HTTP/1.0")
    headers = header_lists(scope["headers"])
    host = _singleton(headers, b"host")
    if host is None and version == "1.1":
        raise refuse("an HTTP/1.1 request needs a Host header (RFC 9112, section 3.2)")
    if host is not None and "," in host:
        raise refuse(f"Host header given more than once: {echo(host)}")
    if host is not None and not _HOST.fullmatch(host):
        raise refuse(f"Host header is not a host name or address: {echo(host)}")
    authorization = _singleton(headers, b"authorization")
    if authorization is not None and "," in authorization:
        # No bearer token has a comma: this is two credentials (the header given twice and
        # joined by the server, or a list). Which one counts is not for the server to guess.
        raise refuse("Authorization header given more than once: send one credential")
    content_type = _singleton(headers, b"content-type")
    if content_type is not None and "," in _UNQUOTED.sub("", content_type):
        raise refuse(f"Content-Type header given more than once: {echo(content_type)}")
    for coding in headers.get(b"content-encoding", []):
        for name in coding.split(","):
            if name.strip().lower() not in ("", "identity"):
                raise refuse(
                    f"Content-Encoding {echo(name.strip())} is not accepted: "
                    "send the body unencoded"
                )
    path, query = _split_target(scope)
    return {"path": _decode_path(path), "raw_path": path, "query_string": _checked_query(query)}


def header_lists(raw_headers) -> dict[bytes, list[str]]:
    """Each header's values by lower-case name, in the order received."""
    headers: dict[bytes, list[str]] = {}
    for name, value in raw_headers:
        headers.setdefault(name.lower(), []).append(value.decode("latin-1"))
    return headers


def _singleton(headers: dict[bytes, list[str]], name: bytes) -> str | None:
    values = headers.get(name)
    if not values:
        return None
    if len(values) > 1:
        title = name.decode().title()
        raise refuse(f"{title} header given more than once: {echo(', '.join(values))}")
    return values[0]


# RFC 9112 section 3.2: uri-host [ ":" port ]; uri-host is a bracketed IP literal or a
# reg-name (IPv4 addresses are reg-names too).
_HOST = re.compile(r"(\[[0-9A-Za-z:.%_~-]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(:[0-9]*)?")
# Quoted strings, which may hold commas, removed before looking for a list.
_UNQUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _split_target(scope: dict) -> tuple[bytes, bytes]:
    """The target's path and query, as sent (still percent-encoded): the scope's `raw_path`
    is the target up to its `?` (an absolute-form target included), as waitress and h11 pass
    it on."""
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    target = path + (b"?" + query if query else b"")
    bad = _NOT_URI_BYTE.search(target)
    if bad:
        raise refuse(
            f"request target has byte {target[bad.start()]:#04x} at {bad.start()}, which a URI "
            "cannot hold: percent-encode it"
        )
    if b"#" in target:
        raise refuse(f"request target must not have a fragment: {echo(target.decode())}")
    absolute = _ABSOLUTE_FORM.match(target)
    if absolute:
        if absolute.group(1).lower() not in (b"http", b"https"):
            raise refuse(f"request target is not an http URI: {echo(target.decode())}")
        target = target[absolute.end() :] or b"/"
        if target.startswith(b"?"):
            target = b"/" + target
    if not target.startswith(b"/"):
        raise refuse(
            f"request target must be a path starting with '/' or an absolute http URI: "
            f"{echo(target.decode())}"
        )
    path, _, query = target.partition(b"?")
    return path, query


# Controls, space, DEL and non-ASCII: RFC 3986 has none of them in a URI.
_NOT_URI_BYTE = re.compile(rb"[\x00-\x20\x7f-\xff]")
_ABSOLUTE_FORM = re.compile(rb"([A-Za-z][A-Za-z0-9+.-]*)://[^/?]*")
_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ENCODED_SLASH = re.compile(rb"%2[Ff]")


def _decode_path(path: bytes) -> str:
    """The path to route: each segment percent-decoded on its own, so that an encoded `/`
    stays inside its segment (as `%2F`) instead of making another path."""
    bad = _ESCAPE.search(path)
    if bad:
        raise refuse(f"path has a malformed percent-escape at {bad.start()}: {echo(path.decode())}")
    segments = []
    for segment in path.split(b"/"):
        parts = _ENCODED_SLASH.split(segment)
        decoded = b"%2F".join(unquote_to_bytes(part) for part in parts)
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise refuse(
                f"path is not valid UTF-8 once percent-decoded: {echo(path.decode())}"
            ) from None
        if text in (".", ".."):
            raise refuse(f"path must not have '.' or '..' segments: {echo(path.decode())}")
        segments.append(text)
    return "/".join(segments)


def _checked_query(query: bytes) -> bytes:
    bad = _ESCAPE.search(query)
    if bad:
        raise refuse(
            f"query string has a malformed percent-escape at {bad.start()}: {echo(query.decode())}"
        )
    try:
        # Starlette would decode invalid UTF-8 to U+FFFD and search for that.
        unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(
            f"query string is not valid UTF-8 once percent-decoded: {exc.reason}"
        ) from None
    names = Counter(name for name, _ in parse_qsl(query.decode(), keep_blank_values=True))
    if "" in names:
        raise refuse(f"query string has a parameter without a name: {echo(query.decode())}")
    for name, count in names.items():
        if count > 1:
            raise refuse(
                f"query parameter {name} given {count} times: give each parameter once"
                " (a list, such as tags, is one comma-separated value)"
            )
    return query


# Content negotiation for the operations that take a body.

JSON = "application/json"

# RFC 9110 section 8.3.1: type "/" subtype *( OWS ";" OWS [ parameter ] ), where a
# parameter is token "=" ( token / quoted-string ).
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_MEDIA_TYPE = re.compile(
    rf"({_TOKEN})/({_TOKEN})((?:[ \t]*;[ \t]*(?:{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))?)*)[ \t]*"
)
_PARAMETER = re.compile(rf"({_TOKEN})=({_TOKEN}|{_QUOTED})")


@functools.lru_cache(maxsize=256)  # clients send a handful of spellings, over and over
def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` in lower case and the parameters (names in lower case, values
    unquoted); a value that is not a media type is refused."""
    match = _MEDIA_TYPE.fullmatch(value.strip(" \t"))
    if not match:
        raise refuse(f"Content-Type is not a media type: {echo(value)}")
    parameters = {}
    for name, raw in _PARAMETER.findall(match.group(3)):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        parameters[name.lower()] = raw
    return f"{match.group(1)}/{match.group(2)}".lower(), parameters


def _content_length(headers: dict[bytes, list[str]]) -> int:
    values = headers.get(b"content-length")
    try:
        return int(values[0]) if values else 0
    except ValueError:
        return 0  # the server refuses those itself; nothing is read here


def _has_body(headers: dict[bytes, list[str]]) -> bool:
    return _content_length(headers) > 0 or b"transfer-encoding" in headers


def require_json(scope: dict) -> dict:
    """The request of an operation with a body has one, and says it is `application/json` in
    UTF-8; answers the scope with that header spelled as Connexion expects it (it tells JSON
    from other bodies by comparing the text)."""
    headers = header_lists(scope["headers"])
    values = headers.get(b"content-type")
    if not _has_body(headers):
        raise refuse(f"request body is required: a JSON object, sent as {JSON}")
    if not values:
        raise refuse(f"Content-Type header is missing: send the body as {JSON}")
    media_type, parameters = parse_media_type(values[0])
    if media_type != JSON:
        raise refuse(f"Content-Type must be {JSON}, not {echo(values[0])}")
    charset = parameters.get("charset")
    if charset is not None and charset.lower() != "utf-8":
        raise refuse(f"charset {echo(charset)} is not accepted: JSON bodies are UTF-8")
    return {
        **scope,
        "headers": [
            (name, JSON.encode() if name.lower() == b"content-type" else value)
            for name, value in scope["headers"]
        ],
    }


def refuse_body(scope: dict) -> None:
    """An operation without a request body gets none: what it would mean is undefined."""
    if _has_body(header_lists(scope["headers"])):
        raise refuse(f"{scope['method']} {scope['path']} takes no request body")


# The body: strict JSON.


def json_body(raw: bytes):
    """The JSON value of a request body, parsed strictly: invalid UTF-8, a byte order mark,
    NaN, Infinity, numbers too large for a double (1e309), duplicate keys, nesting deeper than
    Python's recursion limit and text no database stores alike are the client's error (400),
    never a 500 or a silently chosen value. An empty body is None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(
            f"request body is not valid UTF-8: byte {raw[exc.start]:#04x} at {exc.start}"
        ) from None
    if text.startswith("\ufeff"):
        raise refuse("request body starts with a byte order mark (U+FEFF), which JSON forbids")
    if not text.strip(" \t\r\n"):
        return None
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise refuse(f"request body is nested {depth} deep, more than the {MAX_NESTING} allowed")
    try:
        body = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except ValueError as exc:  # JSONDecodeError, and ours below
        raise refuse(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise refuse("request body is not valid JSON: nested too deeply") from None
    problem = _unstorable_text(body)
    if problem:
        raise refuse(f"request body: {problem}")
    return body


# Deepest nesting of arrays and objects taken in a body: the contract's are 2 deep. Checked
# before any parser sees the body, so that no parser, validator or encoder downstream recurses
# past Python's limit on it.
MAX_NESTING = 32
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings not counted)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0  # cannot be deeper: the usual body is not scanned
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _unstorable_text(value) -> str | None:
    """What makes a string in `value` impossible to store identically on SQLite and
    PostgreSQL: NUL (PostgreSQL refuses it in text) or an unpaired surrogate escape such as
    "\\ud800" (not encodable as UTF-8)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return f"text must not contain NUL (\\u0000): {echo(item)}"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return f"text must not contain unpaired surrogates: {echo(item)}"
    return None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _unique_keys(pairs: list) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


# Parameters.

_INTEGER = re.compile(r"-?[0-9]+")


def check_parameter_text(location: str, name: str, value: str, schema: dict) -> None:
    """What the schema cannot say about a parameter as sent: integers are decimal digits
    (Connexion's `int()` would read "1_0", " 1" and non-ASCII digits too), and text holds no
    NUL."""
    if schema.get("type") == "integer" and not _INTEGER.fullmatch(value):
        raise refuse(f"{location} parameter {name}: {echo(value)} is not an integer")
    if "\x00" in value:
        raise refuse(f"{location} parameter {name}: must not contain NUL")


# Longest validation message echoed to the client.
MESSAGE_LIMIT = 300


def validation_message(exc) -> str:
    """jsonschema's message, without echoing a long value back in full."""
    if exc.validator in ("maxLength", "maxItems"):
        unit = "characters" if exc.validator == "maxLength" else "items"
        return f"{len(exc.instance)} {unit}, more than the {exc.validator_value} allowed"
    if len(exc.message) > MESSAGE_LIMIT:
        return exc.message[:MESSAGE_LIMIT] + "..."
    return exc.message
