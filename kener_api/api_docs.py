"""The contract in the browser: Swagger UI, from the `swagger-ui-bundle` package, on the
document `/openapi.json` serves. Everything is served from here: no request to another host."""

from pathlib import Path

import jinja2
from connexion.lifecycle import ConnexionResponse
from swagger_ui_bundle import swagger_ui_path

from kener_api import pages

HERE = Path(__file__).resolve().parent / "docs"
FILES = {  # the names the contract lists -> the file served
    "swagger-ui.css": Path(swagger_ui_path) / "swagger-ui.css",
    "swagger-ui-bundle.js": Path(swagger_ui_path) / "swagger-ui-bundle.js",
    "docs.js": HERE / "docs.js",
}
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Swagger UI sets inline styles and shows its icons as data: URIs; it fetches the contract
# and, on "Try it out", this server's operations.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_PAGE = jinja2.Environment(autoescape=True).from_string(
    (HERE / "docs.html").read_text(encoding="utf-8")
)


def page(title: str) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200,
        body=_PAGE.render(title=title).encode(),
        content_type="text/html; charset=utf-8",
        mimetype="text/html",
        headers={
            "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


def file(name: str) -> ConnexionResponse:
    path = FILES[name]
    return pages.static_file(path, TYPES[path.suffix])
