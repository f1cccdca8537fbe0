"""The public pages' settings: a Kener `site.yaml`, then the environment."""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kener_api.yaml_file import read_yaml


class SiteFileError(Exception):
    """The site file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Site:
    # Kener 2.0's keys: `title` (the browser's title), `siteName` (the page's heading), `home`
    # (where the heading links), `siteURL` (the public address, for absolute links in feeds).
    title: str = "Status"
    site_name: str = "Status"
    home: str = "/"
    site_url: str | None = None
    description: str = ""


def load_site(path: Path, public_url: str | None = None) -> Site:
    """The settings in `path` (a YAML mapping; keys other than Site's are ignored), with
    `public_url` (KENER_PUBLIC_URL), when set, in place of the file's `siteURL`."""

    def fail(problem: str):
        raise SiteFileError(f"{path}: {problem}")

    entries = read_yaml(path, fail)
    if entries is None:
        entries = {}
    if not isinstance(entries, dict):
        fail(f"must be a mapping of settings, got {type(entries).__name__}")
    values = {}
    for key, name in (
        ("title", "title"),
        ("siteName", "site_name"),
        ("home", "home"),
        ("siteURL", "site_url"),
        ("description", "description"),
    ):
        value = entries.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            fail(f"{key} must be a string, got {value!r}")
        values[name] = value
    if public_url:
        values["site_url"] = public_url
    site = Site(**values)
    if site.site_url is not None:
        parts = urlsplit(site.site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            where = "KENER_PUBLIC_URL" if public_url else "siteURL"
            fail(f"{where} must be an absolute http(s) URL, got {site.site_url!r}")
    return site
