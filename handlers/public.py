"""Operations tagged `Public`: the status page, incident pages, the embed, badges, feeds.

Every answer that shows data is kept and tagged by kener_api.public_cache.
"""

from connexion import request

import storage
from kener_api import badges, feeds, pages
from kener_api.public_cache import cached
from storage.status import DAY, HISTORY_DAYS, MINUTE

FEED_DAYS = 90
MAX_INCIDENT_NUMBER = 2**63 - 1  # the largest a database key holds


@cached()
def get_status_page():
    """The status page."""
    return pages.current().status(storage.status_overview())


@cached()
def get_incident_page(number: str):
    """One incident's page."""
    # Only decimal digits within the numbers' range name an incident; anything else is the
    # 404 page too.
    if not (number.isascii() and number.isdigit()) or int(number) > MAX_INCIDENT_NUMBER:
        raise storage.IncidentNotFound(number)
    return pages.current().incident(storage.incident_with_comments(int(number)))


@cached()
def get_monitor_embed(tag: str, theme: str = "light", bgc: str | None = None):
    """One monitor's row, to embed."""
    monitor = storage.catalog.shown_monitor(tag)
    (entry,) = storage.monitor_overview([monitor.tag])
    return pages.current().embed(entry, theme, bgc)


@cached()
def get_status_badge(
    tag: str,
    label: str | None = None,
    label_color: str | None = None,
    color: str | None = None,
    style: str = "flat",
):
    """A badge with the current status (`_`: the worst of the shown monitors)."""
    status, name = _status_of(tag)
    return badges.svg_response(
        badges.badge(
            label or name,
            badges.STATUS_MESSAGES[status],
            badges.colour(color, badges.STATUS_COLOURS[status]),
            badges.colour(label_color, badges.LABEL_COLOUR),
            style,
        )
    )


def _window_start(now: int, since_last: int, **_) -> int:
    # The first minute the window counts: a window that is no whole number of minutes gains
    # or loses a point within a minute of the clock.
    return -(-(now - since_last) // MINUTE)


@cached(varies=_window_start)
def get_uptime_badge(
    tag: str,
    since_last: int = HISTORY_DAYS * DAY,
    hide_duration: bool = False,
    label: str | None = None,
    label_color: str | None = None,
    color: str | None = None,
    style: str = "flat",
):
    """A badge with the uptime over the last `sinceLast` seconds."""
    monitor = storage.catalog.shown_monitor(tag)
    now = storage.catalog.now()
    counts = storage.window_counts(monitor.tag, now - since_last, now)
    text = label or monitor.name
    if not hide_duration:
        text = f"{text} {badges.window_label(since_last)}"
    uptime = counts.uptime(monitor)
    return badges.svg_response(
        badges.badge(
            text,
            uptime if uptime == "-" else f"{uptime}%",
            badges.colour(color, badges.UPTIME_COLOUR),
            badges.colour(label_color, badges.LABEL_COLOUR),
            style,
        )
    )


@cached()
def get_dot_badge(tag: str, animate: str | None = None):
    """A dot in the current status's colour."""
    status, name = _status_of(tag)
    label = f"{name}: {badges.STATUS_MESSAGES[status]}"
    return badges.svg_response(badges.dot(status, label, ping=animate == "ping"))


def _feed_base_url() -> str:
    site = pages.current().site
    # Without a configured public address, links name the host the reader asked.
    return (site.site_url or str(request.base_url)).rstrip("/")


@cached(varies=lambda now: _feed_base_url())
def get_rss_feed():
    """Recent incidents, RSS 2.0."""
    return feeds.rss(*_feed_content())


@cached(varies=lambda now: _feed_base_url())
def get_atom_feed():
    """Recent incidents, Atom."""
    return feeds.atom(*_feed_content())


def get_asset(asset: str):
    """The pages' stylesheet or icon."""
    return pages.asset(asset)


def get_favicon():
    """The site's icon."""
    return pages.asset("favicon.svg")


def _status_of(tag: str) -> tuple[str, str]:
    """The current status of a shown monitor, or of all of them (`_`), and its name."""
    if tag == "_":
        states = [storage.latest_status(m.tag) for m in storage.catalog.shown()]
        return storage.worst(states), "status"
    monitor = storage.catalog.shown_monitor(tag)
    return storage.latest_status(monitor.tag) or "NO_DATA", monitor.name


def _feed_content():
    now = storage.catalog.now()
    return (
        pages.current().site,
        _feed_base_url(),
        storage.incidents_created_since(now - FEED_DAYS * DAY),
        now,
    )
