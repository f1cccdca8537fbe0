"""Every subclass of a Connexion internal, in one place: what this server changes in
Connexion's request pipeline, and why. The rules themselves (how a request is read, what an
error says) live in `kener_api.request_reading` and `kener_api.errors`; the classes here only
plug them in where Connexion looks for them.

- Set-up once per operation instead of once per request. Connexion 3 builds, for every
  request, the parameter validator, the body validator and its jsonschema validator, the
  response validators and the decorated handler, and runs sync handlers in a thread pool.
  Profiled, that set-up cost more than the validation itself. The classes here do the same
  work, validation included, with everything that depends only on the operation built when
  the app is: the behaviour is Connexion's, the per-request cost is not.
- Routing on untyped path segments, without redirects (`UntypedPathRoutingMiddleware`).
- Content negotiation, strict JSON bodies and one-line parameter errors
  (`StrictJSONBodyValidator`, `NamedParameterValidator`, through `validator_map()`).
- Handlers found by tag and operationId (`TagModuleResolver`).
"""

import asyncio
import functools
import re
import typing as t

import orjson
from connexion import utils
from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.datastructures import MediaTypeDict
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import (
    AsyncParameterDecorator,
    prep_kwargs,
    unwrap_decorators,
)
from connexion.exceptions import BadRequestProblem, NonConformingResponseBody
from connexion.frameworks import starlette as starlette_utils
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.response_validation import (
    ResponseValidationAPI,
    ResponseValidationMiddleware,
    ResponseValidationOperation,
)
from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
from connexion.resolver import Resolver
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    ParameterValidator,
)
from jsonschema import ValidationError
from starlette.datastructures import QueryParams

from kener_api import compiled_schemas, request_reading

Handler = t.Callable[..., t.Any]


class _PreparedParameterDecorator(AsyncParameterDecorator):
    """Connexion's parameter decorator, remembering each parameter name's Python form: it was
    recomputed with several regular expressions for every parameter of every request. The
    cache is bounded because query parameter names come from the client.

    Its wrapper is Connexion's (AsyncParameterDecorator.__call__) less two steps that cost
    about a tenth of a small request and cannot change the arguments here:
    - the body is read only for a handler that takes it: whether it does is known when the
      handler is decorated, since the contract names no body `x-body-name` (Connexion's
      default name, `body`, for every operation; tests/test_connexion_internals.py checks);
    - no form is parsed for files: a form body never reaches a handler (request_reading
      refuses every body but JSON before validation), so the files are always none.
    """

    BODY_NAME = "body"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sanitize_fn = functools.lru_cache(maxsize=1024)(self.sanitize_fn)

    def __call__(self, function: Handler) -> Handler:
        arguments, has_kwargs = utils.inspect_function_arguments(unwrap_decorators(function))
        wants_body = has_kwargs or self.BODY_NAME in arguments
        sanitize = self.sanitize_fn

        @functools.wraps(function)
        async def wrapper(request):
            body = None
            if wants_body:
                body = request.get_body()
                while asyncio.iscoroutine(body):
                    body = await body
            kwargs = prep_kwargs(
                request,
                request_body=body,
                files={},
                arguments=arguments,
                has_kwargs=has_kwargs,
                sanitize=sanitize,
            )
            return await function(**kwargs)

        return wrapper


class _InlineDecorator(StarletteDecorator):
    """Calls sync handlers on the thread serving the request. Each waitress thread runs its own
    event loop (see `kener_api.wsgi`), so a blocking handler holds up no other request, and the
    hop to a thread pool and back, a large share of each request's time, is saved."""

    @property
    def _parameter_decorator_cls(self) -> type[AsyncParameterDecorator]:
        return _PreparedParameterDecorator

    @property
    def _sync_async_decorator(self) -> t.Callable[[Handler], Handler]:
        def decorator(function: Handler) -> Handler:
            if asyncio.iscoroutinefunction(function):
                return function

            @functools.wraps(function)  # the parameter decorator reads its signature
            async def call_inline(*args, **kwargs):
                return function(*args, **kwargs)

            return call_inline

        return decorator


class PreparedOperation(AsyncOperation):
    """An operation's handler, decorated (parameters in, response out) once."""

    def __init__(self, operation: AbstractOperation, *, pythonic_params: bool, jsonifier) -> None:
        super().__init__(
            operation.function,
            jsonifier=jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=pythonic_params,
        )
        decorator = _InlineDecorator(pythonic_params=pythonic_params, jsonifier=jsonifier)
        self._decorated = decorator.decorate(operation.function)
        self._uri_parser = operation.uri_parser_class(
            operation.parameters, operation.body_definition()
        )

    @classmethod
    def from_operation(cls, operation, *, pythonic_params, jsonifier) -> "PreparedOperation":
        return cls(operation, pythonic_params=pythonic_params, jsonifier=jsonifier)

    async def __call__(self, scope, receive, send) -> None:
        request = StarletteFramework.get_request(
            scope=scope, receive=receive, uri_parser=self._uri_parser
        )
        response = await self._decorated(request)
        await response(scope, receive, send)


class _PreparedApi(AsyncApi):
    def make_operation(self, operation: AbstractOperation) -> PreparedOperation:
        return PreparedOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


class PreparedASGIApp(AsyncASGIApp):
    api_cls = _PreparedApi


class _PreparedRequestValidation(RequestValidationOperation):
    """RequestValidationOperation.__call__, with its validators built once, and the body's
    media type read by `request_reading` (Connexion compared the header's text, so that
    `APPLICATION/JSON` or no Content-Type at all let a body through unvalidated)."""

    def __init__(self, next_app, **kwargs) -> None:
        super().__init__(next_app, **kwargs)
        operation = self._operation
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=operation.uri_parser_class(
                operation.parameters, operation.body_definition()
            ),
            # Operations marked `x-unknown-query-parameters: ignored` (the public pages, which
            # links reach with tracking parameters) take unknown parameters.
            strict_validation=self.strict_validation
            and operation._operation.get("x-unknown-query-parameters") != "ignored",
            security_query_params=self.security_query_params,
        )
        self._body_validator = None
        schema = operation.body_schema(request_reading.JSON) if operation.request_body else None
        if schema:
            self._body_validator = self._validator_map["body"][request_reading.JSON](
                schema=schema,
                required=operation.request_body.get("required", False),
                nullable=utils.is_nullable(operation.body_definition(request_reading.JSON)),
                encoding="utf-8",  # JSON is UTF-8 (RFC 8259); other charsets are refused
                strict_validation=self.strict_validation,
                uri_parser=self._parameter_validator.uri_parser,
            )

    async def __call__(self, scope, receive, send) -> None:
        self._parameter_validator.validate(scope)
        if self._body_validator is None:
            request_reading.refuse_body(scope)
        else:
            scope = request_reading.require_json(scope)
            receive, scope = await self._body_validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class _PreparedRequestValidationAPI(RequestValidationAPI):
    def make_operation(self, operation: AbstractOperation) -> _PreparedRequestValidation:
        return _PreparedRequestValidation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class PreparedRequestValidationMiddleware(RequestValidationMiddleware):
    api_cls = _PreparedRequestValidationAPI


class _PreparedResponseValidation(ResponseValidationOperation):
    """ResponseValidationOperation.__call__, with the produced media types parsed once."""

    def __init__(self, next_app, **kwargs) -> None:
        super().__init__(next_app, **kwargs)
        self._produces = MediaTypeDict([(p.lower(), None) for p in self._operation.produces])

    def validate_mime_type(self, mime_type: str) -> None:
        if self._operation.produces and mime_type.lower() not in self._produces:
            super().validate_mime_type(mime_type)  # raises, with Connexion's message


class _PreparedResponseValidationAPI(ResponseValidationAPI):
    def make_operation(self, operation: AbstractOperation):
        if not self.validate_responses:
            return self.next_app
        return _PreparedResponseValidation(
            self.next_app, operation=operation, validator_map=self.validator_map
        )


class PreparedResponseValidationMiddleware(ResponseValidationMiddleware):
    api_cls = _PreparedResponseValidationAPI


class UntypedPathRoutingAPI(RoutingAPI):
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


class UntypedPathRoutingMiddleware(RoutingMiddleware):
    def __init__(self, app) -> None:
        super().__init__(app)
        # Starlette answers `/api/status/` with a redirect to `/api/status`, an empty 307
        # whose Location is always http://, even behind a TLS proxy. A path is the path sent:
        # one the contract does not have is 404.
        self.router.redirect_slashes = False

    def add_api(self, specification, base_path=None, arguments=None, **kwargs) -> None:
        # As RoutingMiddleware.add_api, for the single API this app serves.
        api = UntypedPathRoutingAPI(
            specification, base_path=base_path, arguments=arguments, next_app=self.app, **kwargs
        )
        api.router.redirect_slashes = False
        self.router.mount(api.base_path, app=api.router)


# Connexion's defaults, less what this API does not serve (Swagger UI; lifespan events, which
# waitress does not send), with routing and validation replaced by the versions above.
_REPLACED_MIDDLEWARES = {
    RoutingMiddleware: UntypedPathRoutingMiddleware,
    RequestValidationMiddleware: PreparedRequestValidationMiddleware,
    ResponseValidationMiddleware: PreparedResponseValidationMiddleware,
    SwaggerUIMiddleware: None,
    LifespanMiddleware: None,
}


def middlewares(before_routing: list) -> list:
    """Connexion's middleware stack as this server runs it, with `before_routing` inside the
    exception handling and before routing (Connexion's own positions name the classes
    replaced here, so they cannot be used)."""
    stack = []
    for middleware in ConnexionMiddleware.default_middlewares:
        if middleware is RoutingMiddleware:
            stack.extend(before_routing)
        replaced = _REPLACED_MIDDLEWARES.get(middleware, middleware)
        if replaced is not None:
            stack.append(replaced)
    return stack


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


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    """Request bodies parsed by `request_reading.json_body`, validated with one compiled
    validator per schema (`kener_api.compiled_schemas`), errors naming the field."""

    @property
    def _validator(self):
        return compiled_schemas.compiled(self._schema, "request")

    async def _parse(self, stream, scope):
        return request_reading.json_body(b"".join([chunk async for chunk in stream]))

    def _validate(self, body):
        if not self._nullable and body is None:
            raise BadRequestProblem(detail="request body must be a JSON object, not null")
        try:
            return self._validator.validate(body)
        except ValidationError as exc:
            where = "".join(f" - '{part}'" for part in exc.absolute_path)
            message = request_reading.validation_message(exc)
            raise BadRequestProblem(detail=f"{message}{where}") from None


class CompiledJSONResponseBodyValidator(JSONResponseBodyValidator):
    """Connexion's response validation, with each schema's validator compiled once
    (`kener_api.compiled_schemas`), and the answer read back with orjson (it is this server's
    own JSON)."""

    @property
    def validator(self):
        return compiled_schemas.compiled(self._schema, "response")

    def _parse(self, stream):
        body = b"".join(stream)
        if not body:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise NonConformingResponseBody(str(exc)) from None


class NamedParameterValidator(ParameterValidator):
    """Errors name the parameter and say what is wrong in one line (Connexion's own carry the
    whole failing schema); integers are checked as sent (`request_reading`)."""

    def validate(self, scope):
        sent = {
            "query": QueryParams(scope.get("query_string", b"")),
            "path": scope.get("path_params", {}),
        }
        for location, values in sent.items():
            for param in self.parameters.get(location, []):
                value = values.get(param["name"])
                if value is not None:
                    request_reading.check_parameter_text(
                        location, param["name"], value, param["schema"]
                    )
        super().validate(scope)

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if value is None:
            if param.get("required"):
                return f"missing {parameter_type} parameter {param['name']}"
            return None
        try:
            compiled_schemas.compiled(param["schema"], "parameter").validate(value)
        except ValidationError as exc:
            message = request_reading.validation_message(exc)
            return f"{parameter_type} parameter {param['name']}: {message}"
        return None


def validator_map() -> dict:
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
