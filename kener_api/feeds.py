"""The incidents as RSS 2.0 and Atom feeds, made with feedgen."""

import datetime

from connexion.lifecycle import ConnexionResponse
from feedgen.feed import FeedGenerator

from kener_api.pages import ENVIRONMENT, xml_text
from kener_api.site import Site

# Kept by anyone, but asked again before each use: a write shows on the next request, and the
# question costs a 304 when nothing changed (kener_api.public_cache).
CACHE_CONTROL = "public, no-cache"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def _moment(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _feed(site: Site, base_url: str, incidents, now: int, self_path: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(f"{base_url}/")
    feed.title(xml_text(f"{site.site_name} incidents"))
    feed.subtitle(xml_text(site.description or f"Incidents of {site.site_name}"))
    feed.link(href=f"{base_url}/", rel="alternate")
    feed.link(href=f"{base_url}{self_path}", rel="self")
    feed.language("en")
    # Without incidents the feed is as new as the minute, which is what its answer is kept for
    # (kener_api.public_cache): every server process then writes the same feed.
    newest = now - now % 60
    if incidents:
        newest = max(_updated(incident) for incident in incidents)
    feed.updated(_moment(newest))
    template = ENVIRONMENT.get_template("feed_entry.html")
    for incident in incidents:  # newest first, as storage gives them
        entry = feed.add_entry(order="append")
        url = f"{base_url}/incident/{incident.number}"
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(xml_text(incident.title))
        entry.link(href=url)
        entry.published(_moment(incident.created_at))
        entry.updated(_moment(_updated(incident)))
        entry.content(xml_text(template.render(incident=incident)), type="html")
        for tag in incident.tags:
            entry.category(term=xml_text(tag))
    return feed


def _updated(incident) -> int:
    times = [incident.created_at, incident.closed_at or 0]
    times += [comment.created_at for comment in incident.comment_list]
    return max(times)


def rss(site: Site, base_url: str, incidents, now: int) -> ConnexionResponse:
    feed = _feed(site, base_url, incidents, now, "/rss.xml")
    return _response(feed.rss_str(pretty=True), RSS)


def atom(site: Site, base_url: str, incidents, now: int) -> ConnexionResponse:
    feed = _feed(site, base_url, incidents, now, "/history.atom")
    return _response(feed.atom_str(pretty=True), ATOM)


def _response(body: bytes, media_type: str) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200,
        body=body,
        content_type=f"{media_type}; charset=utf-8",
        mimetype=media_type,
        headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
    )
