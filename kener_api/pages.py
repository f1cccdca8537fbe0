"""The public HTML pages: Jinja2 templates (kener_api/templates), Markdown, security headers.

Every template is autoescaped; the one way text from the database becomes markup is the
`markdown` filter, whose renderer has raw HTML and images turned off and accepts only http,
https, mailto and relative links.
"""

import base64
import datetime
import functools
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from connexion.lifecycle import ConnexionResponse
from markdown_it import MarkdownIt
from markupsafe import Markup

import storage
from kener_api.site import Site

ASSETS = Path(__file__).with_name("assets")
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

# Words for each status, on the page and in badges. The colours are Kener's (REFERENCE.md),
# but "no data" is a grey that can be seen on white.
STATUS_WORDS = {"UP": "Up", "DEGRADED": "Degraded", "DOWN": "Down", "NO_DATA": "No data"}
OVERALL_WORDS = {
    "UP": "All systems operational",
    "DEGRADED": "Degraded performance",
    "DOWN": "Major outage",
    "NO_DATA": "No data yet",
}
STATUS_ICONS = {"UP": "✓", "DEGRADED": "!", "DOWN": "✕", "NO_DATA": "?"}


# Characters XML 1.0 cannot hold (most C0 controls, U+FFFE, U+FFFF): the API stores them, but
# a feed or an SVG badge holding one is no XML at all, so they are shown as U+FFFD.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # An image would be a request to another host, which the pages never make.
    md.disable("image")

    def validate_link(url: str) -> bool:
        return urlsplit(url.strip()).scheme.lower() in ("", "http", "https", "mailto")

    md.validateLink = validate_link
    return md


_MARKDOWN = _markdown()


def _moment(seconds: int) -> datetime.datetime | None:
    """The UTC time `seconds` names, or None past what a calendar date holds: an incident's
    start and end may be any int64 (the contract's range), year 10000 and later included."""
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _utc(seconds: int | None) -> str:
    if seconds is None:
        return ""
    moment = _moment(seconds)
    if moment is None:
        return f"{seconds} s after 1970-01-01 UTC"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _iso(seconds: int) -> str:
    """For a `datetime` attribute: a valid global date and time, or a duration in seconds
    (also valid there) where no date can be written."""
    moment = _moment(seconds)
    return moment.isoformat() if moment is not None else f"PT{seconds}S"


def _date(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d")


def _uptime(text: str) -> str:
    return text if text == "-" else f"{text}%"


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("kener_api", "templates"),
    autoescape=jinja2.select_autoescape(["html", "svg", "xml"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(
    markdown=lambda text: Markup(_MARKDOWN.render(text or "")),
    utc=_utc,
    iso=_iso,
    date=_date,
    uptime=_uptime,
)


@functools.lru_cache(maxsize=16_384)
def _day_cell(day: storage.Day, monitor: storage.Monitor) -> Markup:
    # A past day's cell is the same on every request until its counts change: rendered once,
    # the page costs about the same with 90 days of history as with one.
    return Markup(ENVIRONMENT.get_template("_day.html").render(day=day, monitor=monitor))


def _day_cells(entry: storage.MonitorOverview) -> Markup:
    return Markup("").join(_day_cell(day, entry.monitor) for day in entry.days)


def _element_id(tag: str) -> str:
    # Tags may hold any character; an id made from their hash is valid and unique.
    return "m-" + hashlib.sha256(tag.encode()).hexdigest()[:12]


ENVIRONMENT.globals.update(
    STATUS_WORDS=STATUS_WORDS,
    OVERALL_WORDS=OVERALL_WORDS,
    STATUS_ICONS=STATUS_ICONS,
    element_id=_element_id,
    day_cells=_day_cells,
)


class Pages:
    """Renders the pages for one site."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def status(self, overview: storage.Overview) -> ConnexionResponse:
        return self._page("status.html", overview=overview)

    def incident(self, incident) -> ConnexionResponse:
        return self._page("incident.html", incident=incident)

    def embed(
        self, entry: storage.MonitorOverview, theme: str, background: str | None
    ) -> ConnexionResponse:
        # The background is a validated hex colour (openapi.yaml); it reaches the page in a
        # <style> element that the policy allows by the hash of its text. (A nonce would be new
        # in every answer; with the hash the same colour gives the same page, which can be kept
        # and tagged: kener_api.public_cache.)
        style = f"body.embed {{ background: #{background.lstrip('#')}; }}" if background else None
        return self._page("embed.html", frameable=True, style=style, entry=entry, theme=theme)

    def not_found(self, what: str) -> ConnexionResponse:
        return self._page("not_found.html", status=404, what=what)

    def _page(
        self,
        template: str,
        status: int = 200,
        frameable: bool = False,
        style: str | None = None,
        **context,
    ) -> ConnexionResponse:
        body = ENVIRONMENT.get_template(template).render(
            site=self.site, style=style, now=storage.catalog.now(), **context
        )
        return ConnexionResponse(
            status_code=status,
            body=body.encode(),
            content_type="text/html; charset=utf-8",
            mimetype="text/html",
            headers=html_headers(frameable=frameable, style=style),
        )


_current = Pages(Site())


def configure(site: Site) -> None:
    """Render the pages for `site` from now on (create_app)."""
    global _current
    _current = Pages(site)


def current() -> Pages:
    return _current


def html_headers(frameable: bool = False, style: str | None = None) -> dict[str, str]:
    """The headers of every HTML answer: only this server's own stylesheet and images, and the
    one `<style>` element whose text is `style`, no script, framing only where `frameable`."""
    styles = "'self'"
    if style:
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode("ascii")
        styles += f" 'sha256-{digest}'"
    ancestors = "*" if frameable else "'none'"
    policy = (
        f"default-src 'none'; style-src {styles}; img-src 'self' data:; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    if not frameable:
        headers["X-Frame-Options"] = "DENY"
    return headers


def asset(name: str) -> ConnexionResponse:
    """One of the files in kener_api/assets (the contract lists their names)."""
    path = ASSETS / name
    return static_file(path, ASSET_TYPES[path.suffix])


def static_file(path: Path, content_type: str) -> ConnexionResponse:
    """A file shipped with the server (stylesheet, icon, Swagger UI's files), kept by browsers
    for an hour."""
    return ConnexionResponse(
        status_code=200,
        body=path.read_bytes(),
        content_type=content_type,
        mimetype=content_type.split(";")[0],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
