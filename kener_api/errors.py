"""Every error the server sends is made here: `application/json` `{"error": "..."}` with a
status code the contract declares (400 and 401 for the operations; 404 and 405 outside them;
500 for a fault of the server, whose details go to the log only), except that an HTML page
that finds nothing to show answers the HTML 404 page (kener_api.pages)."""

import json
import logging
import re

import peewee
from connexion import AsyncApp
from connexion.exceptions import ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from kener_api import metrics, pages
from storage import IncidentNotFound, NotShown, Rejected

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal server error"
INTERNAL_ERROR_BODY = json.dumps({"error": INTERNAL_ERROR}).encode()
STORAGE_FAULT = "internal server error: the database is unavailable, try again later"


def error_response(status: int, message: str, headers: dict | None = None) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        body=json.dumps({"error": message}),
        headers=headers or {},
    )


class PathMethods:
    """The methods the contract declares for each path, to answer requests outside the
    operations with 404, or 405 and a complete `Allow` header; and which paths are HTML
    pages."""

    def __init__(self, spec: dict) -> None:
        self._paths = []
        self._pages = []
        for path, item in spec["paths"].items():
            pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))
            self._paths.append(
                (pattern, sorted(method.upper() for method in item if method != "parameters"))
            )
            answer = item.get("get", {}).get("responses", {}).get("200", {})
            if "text/html" in answer.get("content", {}):
                self._pages.append(pattern)

    def is_page(self, path: str) -> bool:
        return any(pattern.fullmatch(path) for pattern in self._pages)

    def allowed(self, path: str) -> list[str] | None:
        for pattern, methods in self._paths:
            if pattern.fullmatch(path):
                return methods
        return None


def register_error_handlers(app: AsyncApp, path_methods: PathMethods) -> None:
    def not_found(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        if path_methods.is_page(request.scope["path"]):
            return pages.current().not_found(str(exc).capitalize() + ".")
        return error_response(404, str(exc))

    async def rejected(request: ConnexionRequest, exc: Rejected) -> ConnexionResponse:
        if isinstance(exc, IncidentNotFound) and path_methods.is_page(request.scope["path"]):
            return not_found(request, exc)
        return error_response(400, str(exc))

    async def not_shown(request: ConnexionRequest, exc: NotShown) -> ConnexionResponse:
        return not_found(request, exc)

    async def problem(_request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
        if isinstance(exc, Unauthorized):
            return error_response(401, exc.detail or "invalid token")
        if exc.status >= 500:
            # A response that broke the contract, or a resolver fault: the server's bug.
            log.error("%s: %s", exc.title, exc.detail, exc_info=exc)
            return error_response(500, INTERNAL_ERROR)
        # Every other problem is the request's (415 wrong content type included): the
        # operations declare 400 for all of them.
        return error_response(400, _problem_message(exc))

    async def no_route(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
        if exc.status_code not in (404, 405):
            return error_response(400, str(exc.detail))
        path = request.scope["path"]  # as decoded, not as `url` re-encodes it
        allowed = path_methods.allowed(path)
        if allowed is None:
            return error_response(404, f"no such path: {path!r}")
        if request.method in allowed:
            # The path has the contract's shape, yet no route took it: a path parameter the
            # router cannot match (one with a line break, say).
            return error_response(400, f"invalid path parameter in {path!r}")
        return error_response(
            405,
            f"method {request.method} not allowed on {path!r}; allowed: " + ", ".join(allowed),
            headers={"Allow": ", ".join(allowed)},
        )

    async def storage_fault(
        request: ConnexionRequest, exc: peewee.DatabaseError
    ) -> ConnexionResponse:
        # A database that is read-only, full, locked past the busy timeout or gone: the
        # transaction was rolled back. One line says what and where; the next request tries
        # the database again.
        cause = " ".join(str(exc).split()) or type(exc).__name__
        metrics.current().database_errors.inc()
        log.error(
            "storage fault on %s %s: %s: %s",
            request.method,
            request.scope["path"],
            type(exc).__name__,
            cause,
        )
        return error_response(500, STORAGE_FAULT)

    async def unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        log.error("unexpected error", exc_info=exc)
        return error_response(500, INTERNAL_ERROR)

    app.add_error_handler(Rejected, rejected)
    app.add_error_handler(NotShown, not_shown)
    app.add_error_handler(peewee.DatabaseError, storage_fault)
    app.add_error_handler(ProblemException, problem)
    app.add_error_handler(HTTPException, no_route)
    app.add_error_handler(Exception, unexpected)


def _problem_message(exc: ProblemException) -> str:
    if exc.status == 415:
        return f"Content-Type must be application/json: {exc.detail}"
    return str(exc.detail or exc.title)
