"""HTTP client of the server under test. Answers to the operations a test judges are
validated against the profile's OpenAPI document with openapi-core (answers to the requests
that only set the test up are judged by the tests about them), and every exchange is recorded
for the report."""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass
class Exchange:
    """One request and its answer, as the report shows them."""

    request: httpx.Request
    response: httpx.Response

    def describe(self, limit: int = 1500) -> str:
        """The exchange as HTTP text, each body cut at `limit` characters."""
        request, response = self.request, self.response
        lines = [f"{request.method} {request.url.raw_path.decode('latin-1')} HTTP/1.1"]
        lines += [
            f"{name}: {value}"
            for name, value in request.headers.items()
            if name.lower() == "content-type"
        ]
        if request.headers.get("authorization"):
            lines.append("Authorization: <" + _describe_credentials(request) + ">")
        body = request.content
        if body:
            lines += ["", _shorten(body, limit)]
        lines += ["", f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        lines += [
            f"{name}: {value}"
            for name, value in response.headers.items()
            if name.lower() in ("content-type", "allow")
        ]
        lines += ["", _shorten(response.content, limit)]
        return "\n".join(lines)

    def curl(self) -> str:
        """A curl command that sends this request again; the token is left as $TOKEN."""
        request = self.request
        words = ["curl", "-i", "-X", request.method, str(request.url)]
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                scheme, _, _ = value.partition(" ")
                value = f"{scheme} $TOKEN" if " " in value else "$TOKEN"
                words += ["-H", f"Authorization: {value}"]
            elif name.lower() == "content-type":
                words += ["-H", f"{name}: {value}"]
        if request.content:
            words += ["--data-binary", request.content.decode("utf-8", errors="replace")]
        # Double quotes where $TOKEN is, so that the shell fills it in.
        return " ".join(f'"{word}"' if "$TOKEN" in word else shlex.quote(word) for word in words)


def _describe_credentials(request: httpx.Request) -> str:
    value = request.headers["authorization"]
    scheme, _, _ = value.partition(" ")
    return f"{scheme} ..." if " " in value else "bare value"


def _shorten(data: bytes, limit: int = 1500) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} bytes)"


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not allow. The message's first line names the
    operation, the status and each field that breaks the schema; the exchange follows."""


class SpecValidator:
    def __init__(self, spec_path: Path) -> None:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        # The documents name a placeholder host; answers from any host are judged.
        spec["servers"] = [{"url": "/"}]
        self.openapi = OpenAPI.from_dict(spec)
        self.routes = [  # (method, compiled path template, operationId)
            (method.upper(), _template(path), operation.get("operationId", f"{method} {path}"))
            for path, item in spec["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and method != "parameters"
        ]

    def operation_of(self, request: httpx.Request) -> str | None:
        """The operationId the request is a call of, or None."""
        path = urlsplit(str(request.url)).path
        for method, pattern, operation_id in self.routes:
            if method == request.method and pattern.fullmatch(path):
                return operation_id
        return None

    def check(self, exchange: Exchange) -> None:
        try:
            self.openapi.validate_response(
                _CoreRequest(exchange.request), _CoreResponse(exchange.response)
            )
        except Exception as error:  # openapi-core raises one class per kind of mismatch
            operation = self.operation_of(exchange.request) or exchange.request.method
            raise ContractViolation(
                f"{operation} answered {exchange.response.status_code} outside the OpenAPI "
                f"document: {_mismatch(error)}\n" + exchange.describe()
            ) from None


def _template(path: str) -> re.Pattern:
    return re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)))


def _mismatch(error: Exception) -> str:
    """What openapi-core found, in one line: each field of the body that breaks the schema
    with why (the first reason per field), or the error's own text."""
    cause = error.__cause__
    found: dict[str, str] = {}
    for schema_error in getattr(cause, "schema_errors", None) or ():
        field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}"
            for part in schema_error.absolute_path
        ).lstrip(".")
        found.setdefault(field or "the body", schema_error.message)
    if found:
        return "; ".join(f"{field}: {message}" for field, message in found.items())
    text = str(cause or error) or error.__class__.__name__
    return " ".join(text.split())[:300]


class _CoreRequest:
    """An httpx request as openapi-core reads requests."""

    def __init__(self, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class _CoreResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.data = response.content
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))


class KenerClient:
    """Talks to the target. `request` validates the answer against the OpenAPI document when
    it is an answer of one of `judged` (the operations the test is about; every operation
    when None), unless `validate=False` (for requests outside the operations: 404, 405)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        validator: SpecValidator,
        exchanges: list,
        judged: frozenset[str] | None = None,
        preconditions=None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        self.validator = validator
        self.exchanges = exchanges
        self.judged = judged
        self.preconditions = preconditions  # conformance.preconditions.Preconditions of the run

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        content: bytes | None = None,
        params=None,
        headers=None,
        validate: bool = True,
    ) -> httpx.Response:
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.http.request(method, path, content=content, params=params, headers=headers)
        exchange = Exchange(response.request, response)
        self.exchanges.append(exchange)
        if validate and (
            self.judged is None or self.validator.operation_of(response.request) in self.judged
        ):
            self.validator.check(exchange)
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body=None, **kwargs) -> httpx.Response:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def patch(self, path: str, json_body=None, **kwargs) -> httpx.Response:
        return self.request("PATCH", path, json_body=json_body, **kwargs)

    def close(self) -> None:
        self.http.close()
