"""The one way to build the application: `create_app(settings)`."""

from pathlib import Path

import yaml
from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

import storage
from kener_api import connexion_internals, contract, json_encoding, metrics, pages
from kener_api.access_log import AccessLog
from kener_api.auth import AddressPolicy, FailureLimiter, bearer_handler, resolve_token
from kener_api.cors import DeclaredPathsCORS
from kener_api.errors import PathMethods, register_error_handlers
from kener_api.monitors import load_monitors
from kener_api.request_reading import RequestReader
from kener_api.settings import Settings
from kener_api.site import load_site

# The repository's openapi.yaml, through a symbolic link: an installed wheel carries the file.
SPEC_PATH = Path(__file__).resolve().parent / "openapi.yaml"


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

    pages.configure(load_site(settings.site_file, settings.public_url))

    addresses = AddressPolicy.from_settings(settings)
    text = SPEC_PATH.read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    if settings.metrics_public:
        spec["paths"]["/metrics"]["get"]["security"] = []
        text = None  # the document served is no longer the file as written
    if not settings.public_pages:
        spec = without_public_operations(spec)
        text = None
    contract.configure(spec, text)
    request_metrics = metrics.configure(spec)
    # The request reader runs inside the error handling and before routing: a malformed
    # message is answered 400 as any other error, whoever sent it.
    path_methods = PathMethods(spec)
    app = AsyncApp(
        __name__,
        middlewares=connexion_internals.middlewares([RequestReader]),
        jsonifier=json_encoding.Jsonifier(),
    )
    # Handlers decorated once per operation and run inline (kener_api.connexion_internals).
    app._middleware_app = app.middleware.app = connexion_internals.PreparedASGIApp()
    app.add_api(
        spec,
        resolver=connexion_internals.TagModuleResolver("handlers"),
        pythonic_params=True,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        security_map={
            "bearer": bearer_handler(
                token, addresses, FailureLimiter(settings.auth_failures_per_minute)
            )
        },
        validator_map=connexion_internals.validator_map(),
        swagger_ui_options=SwaggerUIOptions(swagger_ui=False),
    )
    register_error_handlers(app, path_methods)
    app.add_middleware(NoBodyForHead, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        metrics.Requests, position=MiddlewarePosition.BEFORE_EXCEPTION, metrics=request_metrics
    )
    if settings.cors_origins:
        # Outside the error handling: error answers (401, 400) carry the CORS headers too, so
        # that a browser client can read why it was refused.
        app.add_middleware(
            DeclaredPathsCORS,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            origins=settings.cors_origins,
            path_methods=path_methods,
        )
    if settings.access_log:
        app.add_middleware(
            AccessLog,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            token=token,
            client_address=addresses.client_address,
        )
    return app


def without_public_operations(spec: dict) -> dict:
    """The contract without the operations tagged Public: a private deployment
    (KENER_PUBLIC_PAGES=false) answers their paths as any unknown path, 404."""
    paths = {}
    for path, item in spec["paths"].items():
        operations = [item[method] for method in item if method != "parameters"]
        if not any("Public" in operation.get("tags", ()) for operation in operations):
            paths[path] = item
    return {**spec, "paths": paths}


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
