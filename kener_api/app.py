"""The one way to build the application: `create_app(settings)`."""

import json
import math
import re
from pathlib import Path
from urllib.parse import unquote_to_bytes

import yaml
from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.frameworks import starlette as starlette_utils
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    ParameterValidator,
)
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import QueryParams

import storage
from kener_api.access_log import AccessLog
from kener_api.auth import AddressPolicy, bearer_handler, resolve_token
from kener_api.errors import PathMethods, register_error_handlers
from kener_api.monitors import load_monitors
from kener_api.pipeline import (
    PreparedASGIApp,
    PreparedRequestValidationMiddleware,
    PreparedResponseValidationMiddleware,
)
from kener_api.settings import Settings

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


def create_app(settings: Settings | None = None) -> AsyncApp:
    """An ASGI app serving the contract in `openapi.yaml` on the storage named by `settings`.

    Storage is opened here rather than in a lifespan hook: hooks do not run when the app is
    served by waitress.
    """
    settings = settings or Settings.load()
    monitors = load_monitors(settings.monitors_file)
    token = resolve_token(settings)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    storage.open_database(settings.database)
    storage.catalog.configure(monitors, settings.clock)

    addresses = AddressPolicy.from_settings(settings)
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    app = AsyncApp(__name__, middlewares=_middlewares())
    # Handlers decorated once per operation and run inline (kener_api.pipeline).
    app._middleware_app = app.middleware.app = PreparedASGIApp()
    app.add_api(
        spec,
        resolver=TagModuleResolver("handlers"),
        pythonic_params=True,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        security_map={"bearer": bearer_handler(token, addresses)},
        validator_map=_validator_map(),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=False),
    )
    register_error_handlers(app, PathMethods(spec))
    app.add_middleware(NoBodyForHead, position=MiddlewarePosition.BEFORE_EXCEPTION)
    if settings.access_log:
        app.add_middleware(
            AccessLog,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            token=token,
            client_address=addresses.client_address,
        )
    return app


class NoBodyForHead:
    """Drop the body of any answer to HEAD. waitress sends what the app gives; a body after a
    HEAD answer would be read by the client as the start of the next response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_headers_only)


class TagModuleResolver(Resolver):
    """Route an operation to `handlers/<first tag>.py:<operationId in snake_case>`, so that
    the contract keeps its original operationIds (`Monitors` + `updateMonitorStatus` ->
    `handlers.monitors.update_monitor_status`)."""

    def __init__(self, package: str) -> None:
        super().__init__()
        self.package = package

    def resolve_operation_id(self, operation) -> str:
        module = operation._operation["tags"][0].lower()
        function = re.sub(r"(?<!^)(?=[A-Z])", "_", operation.operation_id).lower()
        return f"{self.package}.{module}.{function}"


class _UntypedPathRoutingAPI(RoutingAPI):
    """Connexion turns typed path parameters into route converters, so that
    `/api/incident/abc` matched no route and was answered 404. Routing on plain path segments
    lets the parameter validator answer 400, naming the parameter, as the contract says."""

    @staticmethod
    def _framework_path_and_name(operation, path):
        starlette_path = starlette_utils.starlettify_path(path)
        return starlette_path, starlette_path

    def _add_operation_internal(self, method, path, operation, name=None) -> None:
        super()._add_operation_internal(method, path, operation, name)
        # Starlette answers HEAD wherever GET is routed; the contract declares no HEAD, and
        # waitress would send the GET body with it. Without it HEAD gets the contract's 405.
        self.router.routes[-1].methods.discard("HEAD")


class _UntypedPathRoutingMiddleware(RoutingMiddleware):
    def add_api(self, specification, base_path=None, arguments=None, **kwargs) -> None:
        # As RoutingMiddleware.add_api, for the single API this app serves.
        api = _UntypedPathRoutingAPI(
            specification, base_path=base_path, arguments=arguments, next_app=self.app, **kwargs
        )
        self.router.mount(api.base_path, app=api.router)


# Connexion's defaults, less what this API does not serve (Swagger UI; lifespan events, which
# waitress does not send), with routing and validation replaced by the versions that do their
# set-up once per operation.
_REPLACED_MIDDLEWARES = {
    RoutingMiddleware: _UntypedPathRoutingMiddleware,
    RequestValidationMiddleware: PreparedRequestValidationMiddleware,
    ResponseValidationMiddleware: PreparedResponseValidationMiddleware,
    SwaggerUIMiddleware: None,
    LifespanMiddleware: None,
}


def _middlewares() -> list:
    replaced = (
        _REPLACED_MIDDLEWARES.get(middleware, middleware)
        for middleware in ConnexionMiddleware.default_middlewares
    )
    return [middleware for middleware in replaced if middleware is not None]


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    """Parses request bodies as strict JSON: invalid UTF-8, NaN, Infinity, numbers too large
    for a float (1e309), duplicate keys and nesting deeper than Python's recursion limit are
    the client's error (400), never a 500 or a silently chosen value."""

    @property
    def _validator(self):
        return _compiled(Draft4RequestValidator, self._schema)

    async def _parse(self, stream, scope):
        raw = b"".join([chunk async for chunk in stream])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestProblem(
                detail=f"request body is not valid UTF-8: byte {raw[exc.start]:#04x} at {exc.start}"
            ) from None
        if not text.strip():
            return None
        try:
            body = json.loads(
                text,
                parse_constant=_reject_constant,
                parse_float=_finite_float,
                object_pairs_hook=_unique_keys,
            )
        except ValueError as exc:  # JSONDecodeError, and ours below
            raise BadRequestProblem(detail=f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequestProblem(
                detail="request body is not valid JSON: nested too deeply"
            ) from None
        problem = _unstorable_text(body)
        if problem:
            raise BadRequestProblem(detail=f"request body: {problem}")
        return body

    def _validate(self, body):
        if not self._nullable and body is None:
            raise BadRequestProblem("Request body must not be empty")
        try:
            return self._validator.validate(body)
        except ValidationError as exc:
            where = "".join(f" - '{part}'" for part in exc.absolute_path)
            raise BadRequestProblem(detail=f"{_validation_message(exc)}{where}") from None


def _validation_message(exc: ValidationError) -> str:
    """jsonschema's message, without echoing a long value back in full."""
    if exc.validator in ("maxLength", "maxItems"):
        unit = "characters" if exc.validator == "maxLength" else "items"
        return f"{len(exc.instance)} {unit}, more than the {exc.validator_value} allowed"
    if len(exc.message) > MESSAGE_LIMIT:
        return exc.message[:MESSAGE_LIMIT] + "..."
    return exc.message


# Longest validation message echoed to the client.
MESSAGE_LIMIT = 300


class CompiledJSONResponseBodyValidator(JSONResponseBodyValidator):
    """Connexion's response validation, with each schema's validator built once."""

    @property
    def validator(self):
        return _compiled(Draft4ResponseValidator, self._schema)


_COMPILED: dict[tuple[type, int], tuple[dict, object]] = {}


def _compiled(validator_class: type, schema: dict):
    """One validator per schema of the contract: schemas live as long as the app, and a
    jsonschema validator is safe to share between threads."""
    key = (validator_class, id(schema))
    if key not in _COMPILED:
        # The schema is kept in the entry, so that its id cannot be reused by another.
        _COMPILED[key] = (
            schema,
            validator_class(schema, format_checker=Draft4Validator.FORMAT_CHECKER),
        )
    return _COMPILED[key][1]


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
                return f"text must not contain NUL (\\u0000): {item!r}"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return f"text must not contain unpaired surrogates: {item!r}"
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


class NamedParameterValidator(ParameterValidator):
    """Errors name the parameter and say what is wrong in one line (connexion's own carry
    the whole failing schema).

    Integer parameters are checked as sent, before connexion converts them with `int()`,
    which reads "1_0", " 1" and non-ASCII digits as integers too.
    """

    def validate(self, scope):
        try:
            # Starlette would decode invalid UTF-8 in the query to U+FFFD and search for that.
            unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestProblem(
                detail=f"query string is not valid UTF-8 once percent-decoded: {exc.reason}"
            ) from None
        sent = {
            "query": QueryParams(scope.get("query_string", b"")),
            "path": scope.get("path_params", {}),
        }
        for location, values in sent.items():
            for param in self.parameters.get(location, []):
                value = values.get(param["name"])
                if value is None:
                    continue
                if param["schema"].get("type") == "integer" and not _INTEGER.fullmatch(value):
                    raise BadRequestProblem(
                        detail=f"{location} parameter {param['name']}: {value!r} is not an integer"
                    )
                if "\x00" in value:
                    raise BadRequestProblem(
                        detail=f"{location} parameter {param['name']}: must not contain NUL"
                    )
        super().validate(scope)

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if value is None:
            if param.get("required"):
                return f"missing {parameter_type} parameter {param['name']}"
            return None
        try:
            _compiled(Draft4Validator, param["schema"]).validate(value)
        except ValidationError as exc:
            return f"{parameter_type} parameter {param['name']}: {_validation_message(exc)}"
        return None


_INTEGER = re.compile(r"-?[0-9]+")


def _validator_map() -> dict:
    body = MediaTypeDict(dict(VALIDATOR_MAP["body"]))
    body["*/*json"] = StrictJSONBodyValidator
    response = MediaTypeDict(dict(VALIDATOR_MAP["response"]))
    response["*/*json"] = CompiledJSONResponseBodyValidator
    return {
        **VALIDATOR_MAP,
        "parameter": NamedParameterValidator,
        "body": body,
        "response": response,
    }
