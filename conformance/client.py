"""HTTP client of the server under test. Every answer is validated against the profile's
OpenAPI document with openapi-core, and every exchange is recorded for the report."""

import json
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

    def describe(self) -> str:
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
            lines += ["", _shorten(body)]
        lines += ["", f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        lines += [
            f"{name}: {value}"
            for name, value in response.headers.items()
            if name.lower() in ("content-type", "allow")
        ]
        lines += ["", _shorten(response.content)]
        return "\n".join(lines)


def _describe_credentials(request: httpx.Request) -> str:
    value = request.headers["authorization"]
    scheme, _, _ = value.partition(" ")
    return f"{scheme} ..." if " " in value else "bare value"


def _shorten(data: bytes, limit: int = 1500) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} bytes)"


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not allow."""


class SpecValidator:
    def __init__(self, spec_path: Path) -> None:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        # The documents name a placeholder host; answers from any host are judged.
        spec["servers"] = [{"url": "/"}]
        self.openapi = OpenAPI.from_dict(spec)

    def check(self, exchange: Exchange) -> None:
        try:
            self.openapi.validate_response(
                _CoreRequest(exchange.request), _CoreResponse(exchange.response)
            )
        except Exception as error:  # openapi-core raises one class per kind of mismatch
            details = getattr(error, "__cause__", None) or error
            raise ContractViolation(
                f"answer does not match the OpenAPI document: {error}: {details}\n"
                + exchange.describe()
            ) from None


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
    """Talks to the target. `request` validates the answer against the OpenAPI document
    unless `validate=False` (for requests outside the operations: 404, 405)."""

    def __init__(
        self, base_url: str, token: str | None, validator: SpecValidator, exchanges: list
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        self.validator = validator
        self.exchanges = exchanges

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
        if validate:
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
