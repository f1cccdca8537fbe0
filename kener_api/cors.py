"""CORS for browser clients on other origins (KENER_CORS_ORIGINS), by Starlette's
CORSMiddleware, for the contract's own paths and methods only.

A preflight the policy allows (an allowed origin, a method the path declares, only the
`Authorization` and `Content-Type` headers) is answered by the middleware, 200 with the path's
methods. Any other OPTIONS request goes on to the app and is answered as without CORS (405, or
404 for a path the contract does not have, as JSON errors), and an answer to an allowed origin
carries `Access-Control-Allow-Origin`, error answers included (it runs outside the error
handling, so that a browser client can read why it was refused)."""

from starlette.middleware.cors import CORSMiddleware

from kener_api.errors import PathMethods

ALLOWED_HEADERS = ("authorization", "content-type")
PREFLIGHT_MAX_AGE = 600


class DeclaredPathsCORS:
    def __init__(self, app, origins: tuple[str, ...], path_methods: PathMethods) -> None:
        self.app = app
        self.origins = origins
        self.any_origin = origins == ("*",)
        self.path_methods = path_methods
        self._by_methods: dict[tuple[str, ...], CORSMiddleware] = {}

    def _cors(self, methods: tuple[str, ...]) -> CORSMiddleware:
        """One CORSMiddleware per set of declared methods, so that a preflight names the
        path's own."""
        if methods not in self._by_methods:
            self._by_methods[methods] = CORSMiddleware(
                self.app,
                allow_origins=list(self.origins),
                allow_methods=list(methods),
                allow_headers=list(ALLOWED_HEADERS),
                max_age=PREFLIGHT_MAX_AGE,
            )
        return self._by_methods[methods]

    def _allows(self, scope, methods: list[str]) -> bool:
        headers = {name.lower(): value for name, value in scope["headers"]}
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin or not (self.any_origin or origin in self.origins):
            return False
        if scope["method"] != "OPTIONS" or b"access-control-request-method" not in headers:
            return True  # an actual request: the middleware adds the headers
        wanted = headers[b"access-control-request-method"].decode("latin-1").upper()
        requested = headers.get(b"access-control-request-headers", b"").decode("latin-1")
        names = {name.strip().lower() for name in requested.split(",") if name.strip()}
        return wanted in methods and names <= set(ALLOWED_HEADERS)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            methods = self.path_methods.allowed(scope["path"])
            if methods and self._allows(scope, methods):
                await self._cors(tuple(methods))(scope, receive, send)
                return
        await self.app(scope, receive, send)
