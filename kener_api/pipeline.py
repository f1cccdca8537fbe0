"""Connexion's request pipeline with its set-up done once per operation instead of once per
request.

Connexion 3 builds, for every request, the parameter validator, the body validator and its
jsonschema validator, the response validators and the decorated handler, and runs sync handlers
in a thread pool. Profiled, that set-up cost more than the validation itself. The classes here
do the same work, validation included, with everything that depends only on the operation built
when the app is: the behaviour is Connexion's, the per-request cost is not.
"""

import asyncio
import functools
import typing as t

from connexion import utils
from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.datastructures import MediaTypeDict
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import AsyncParameterDecorator
from connexion.exceptions import UnsupportedMediaTypeProblem
from connexion.frameworks.starlette import Starlette as StarletteFramework
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
from connexion.operations import AbstractOperation

Handler = t.Callable[..., t.Any]


class _CachedNamesParameterDecorator(AsyncParameterDecorator):
    """Connexion's parameter decorator, remembering each parameter name's Python form: it was
    recomputed with several regular expressions for every parameter of every request. The
    cache is bounded because query parameter names come from the client."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sanitize_fn = functools.lru_cache(maxsize=1024)(self.sanitize_fn)


class _InlineDecorator(StarletteDecorator):
    """Calls sync handlers on the thread serving the request. Each waitress thread runs its own
    event loop (see `kener_api.wsgi`), so a blocking handler holds up no other request, and the
    hop to a thread pool and back, a large share of each request's time, is saved."""

    @property
    def _parameter_decorator_cls(self) -> type[AsyncParameterDecorator]:
        return _CachedNamesParameterDecorator

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
    """RequestValidationOperation.__call__, with its validators built once."""

    def __init__(self, next_app, **kwargs) -> None:
        super().__init__(next_app, **kwargs)
        operation = self._operation
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=operation.uri_parser_class(
                operation.parameters, operation.body_definition()
            ),
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._consumes = MediaTypeDict([(c.lower(), None) for c in operation.consumes])
        self._body_validators: dict[str, t.Any] = {}

    def validate_mime_type(self, mime_type: str) -> None:
        if self._operation.consumes and mime_type.lower() not in self._consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self._operation.consumes}"
            )

    def _body_validator(self, mime_type: str):
        """The validator for bodies of `mime_type`, or None when there is nothing to check."""
        if mime_type not in self._body_validators:
            validator = None
            schema = self._operation.body_schema(mime_type)
            validator_class = self._validator_map["body"].get(mime_type) if schema else None
            if validator_class is not None:
                validator = validator_class(
                    schema=schema,
                    required=self._operation.request_body.get("required", False),
                    nullable=utils.is_nullable(self._operation.body_definition(mime_type)),
                    # Bodies are JSON, which is UTF-8 whatever the request's charset says.
                    encoding="utf-8",
                    strict_validation=self.strict_validation,
                    uri_parser=self._parameter_validator.uri_parser,
                )
            self._body_validators[mime_type] = validator
        return self._body_validators[mime_type]

    async def __call__(self, scope, receive, send) -> None:
        self._parameter_validator.validate(scope)
        mime_type, _encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        validator = self._body_validator(mime_type)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
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
