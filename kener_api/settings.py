"""Settings: defaults first, then the environment, then explicit overrides."""

import ipaddress
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_MONITORS_FILE = Path(__file__).with_name("monitors.yaml")
DEFAULT_SITE_FILE = Path(__file__).with_name("site.yaml")

# Environment variable -> setting. API_TOKEN and DATABASE_URL are the names Kener used.
ENVIRONMENT = {
    "API_TOKEN": "api_token",
    "DATABASE_URL": "database_url",
    "KENER_DATA_DIR": "data_dir",
    "KENER_MONITORS": "monitors_file",
    "KENER_SITE": "site_file",
    "KENER_PUBLIC_PAGES": "public_pages",
    "KENER_PUBLIC_URL": "public_url",
    "KENER_HOST": "host",
    "KENER_PORT": "port",
    "KENER_THREADS": "threads",
    "KENER_VALIDATE_RESPONSES": "validate_responses",
    "KENER_CPU_AFFINITY": "cpu_affinity",
    "KENER_MAX_BODY_BYTES": "max_body_bytes",
    "KENER_RETENTION_DAYS": "retention_days",
    "KENER_ACCESS_LOG": "access_log",
    "KENER_HEAD_TIMEOUT": "head_timeout",
    "KENER_MIN_BODY_RATE": "min_body_rate",
    "KENER_CONNECTIONS_PER_ADDRESS": "connections_per_address",
    "KENER_AUTH_FAILURES_PER_MINUTE": "auth_failures_per_minute",
    # Kener's names for its IP allow-list.
    "API_IP": "api_ip",
    "API_IP_REGEX": "api_ip_regex",
    "TRUSTED_PROXIES": "trusted_proxies",
    "TRUSTED_PROXY_HEADER": "trusted_proxy_header",
    "KENER_CORS_ORIGINS": "cors_origins",
    "KENER_METRICS_PUBLIC": "metrics_public",
    "KENER_LOG_FORMAT": "log_format",
    "KENER_LOG_LEVEL": "log_level",
}


PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")

SQLITE_THREADS = 2
POSTGRES_THREADS = 4


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    # Default: a SQLite file in the data directory.
    database_url: str | None = None
    monitors_file: Path = DEFAULT_MONITORS_FILE
    # The public pages: Kener's site.yaml, the address they are reached at (for absolute
    # links in feeds; default the file's siteURL), and whether they are served at all.
    site_file: Path = DEFAULT_SITE_FILE
    public_url: str | None = None
    public_pages: bool = True
    # None: use the token stored in the data directory, generating it on the first start.
    api_token: str | None = None
    validate_responses: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    # None: SQLITE_THREADS on SQLite, POSTGRES_THREADS on PostgreSQL (see `worker_threads`).
    threads: int | None = None
    # "auto": run the server process on one CPU; "none": leave it to the scheduler. Threads of
    # one Python process handing the GIL across CPUs can collapse throughput on a VM.
    cpu_affinity: str = "auto"
    # Minute data older than this many days is deleted (hourly); 0 keeps it forever.
    retention_days: int = 90
    # One JSON line per request on the kener_api.access logger.
    access_log: bool = True
    # Request bodies larger than this are refused (400) before they are read.
    max_body_bytes: int = 64 * 1024
    # Slow clients: a request line and headers must arrive whole within this many seconds of
    # their first byte, and a body at this many bytes per second at least (after as many
    # seconds of grace); a client address may hold this many connections at once (trusted
    # proxies excepted: every client comes through them).
    head_timeout: int = 10
    min_body_rate: int = 1024
    connections_per_address: int = 32
    # Wrong credentials one client address may send per minute before it is refused, its
    # credential unread, until the minute has passed.
    auth_failures_per_minute: int = 100
    # Client addresses allowed to call the API: exact addresses, and a pattern searched in the
    # address. Neither set: any address.
    api_ip: tuple[str, ...] = ()
    api_ip_regex: re.Pattern | None = None
    # Peers whose X-Forwarded-For / X-Real-IP headers are believed (addresses or networks).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # The one header those proxies set: x-forwarded-for, x-real-ip or forwarded (RFC 7239).
    # Required with trusted_proxies: a header the proxy does not set passes from the client.
    trusted_proxy_header: str | None = None
    # Origins whose pages may call the API from a browser (CORS), or ("*",): any. None: off.
    cors_origins: tuple[str, ...] = ()
    # GET /metrics without a credential (for a scraper on a private network).
    metrics_public: bool = False
    # The server's log: text lines or JSON objects, and the lowest level written.
    log_format: str = "text"
    log_level: str = "INFO"
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @classmethod
    def load(cls, environ: Mapping[str, str] = os.environ, **overrides) -> "Settings":
        """Defaults, then the environment variables in ENVIRONMENT, then `overrides` (None
        values in `overrides` are ignored, so a CLI can pass its options straight through)."""
        values = {}
        for variable, name in ENVIRONMENT.items():
            raw = environ.get(variable)
            if raw:
                values[name] = _convert(name, raw, source=variable)
        values.update({name: value for name, value in overrides.items() if value is not None})
        settings = replace(cls(), **values)
        if settings.trusted_proxies and settings.trusted_proxy_header is None:
            raise SettingsError(
                "TRUSTED_PROXIES needs TRUSTED_PROXY_HEADER: the one header your proxy sets "
                "(X-Forwarded-For, X-Real-IP or Forwarded); any other passes from the client"
            )
        return settings

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'kener.db'}"

    @property
    def worker_threads(self) -> int:
        """waitress threads: as set, else what measured best for the database (bench/run.py).

        On SQLite a request is Python and in-process SQLite work, all but the fsync under the
        GIL: threads past two add GIL hand-offs, not throughput, and stretch the slowest
        requests (p99 at 16 connections: 9.5 ms with 1 thread, 14 with 2, 25 with 4, the same
        req/s); the second thread keeps serving while one waits on a lock or the disk. On
        PostgreSQL each query waits on a socket, and 4 threads overlap that wait."""
        if self.threads is not None:
            return self.threads
        return SQLITE_THREADS if self.database.startswith("sqlite") else POSTGRES_THREADS


# Shortest API_TOKEN accepted: a shorter one falls to guessing (unset, one is generated).
MIN_TOKEN_LENGTH = 16


def _convert(name: str, raw: str, source: str):
    if name == "api_token":
        token = raw.strip()
        if token and len(token) < MIN_TOKEN_LENGTH:
            raise SettingsError(
                f"{source} must be at least {MIN_TOKEN_LENGTH} characters, got {len(token)}: "
                "a short token can be guessed (leave it unset to have one generated)"
            )
        return token or None
    if name in ("data_dir", "monitors_file", "site_file"):
        return Path(raw)
    if name in (
        "port",
        "threads",
        "max_body_bytes",
        "retention_days",
        "head_timeout",
        "min_body_rate",
        "connections_per_address",
        "auth_failures_per_minute",
    ):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{source} must be an integer, got {raw!r}") from None
        if value < (0 if name in ("port", "retention_days") else 1):
            raise SettingsError(f"{source} is out of range: {raw!r}")
        return value
    if name == "api_ip":
        return tuple(
            _each(raw, source, "IP addresses", lambda entry: str(ipaddress.ip_address(entry)))
        )
    if name == "trusted_proxies":
        return tuple(
            _each(
                raw,
                source,
                "IP addresses or networks",
                lambda entry: ipaddress.ip_network(entry, strict=False),
            )
        )
    if name == "trusted_proxy_header":
        header = raw.strip().lower()
        if header not in PROXY_HEADERS:
            raise SettingsError(
                f"{source} must be one of X-Forwarded-For, X-Real-IP, Forwarded; got {raw!r}"
            )
        return header
    if name == "cors_origins":
        if raw.strip() == "*":
            return ("*",)
        return tuple(_each(raw, source, "origins (https://host[:port]) or *", _origin))
    if name == "api_ip_regex":
        try:
            return re.compile(raw)
        except re.error as exc:
            raise SettingsError(f"{source} is not a valid regular expression: {exc}") from None
    if name == "log_format":
        if raw.strip().lower() not in ("text", "json"):
            raise SettingsError(f"{source} must be text or json, got {raw!r}")
        return raw.strip().lower()
    if name == "log_level":
        if raw.strip().upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"{source} must be DEBUG, INFO, WARNING or ERROR, got {raw!r}")
        return raw.strip().upper()
    if name == "cpu_affinity":
        if raw not in ("auto", "none"):
            raise SettingsError(f"{source} must be auto or none, got {raw!r}")
        return raw
    if name in ("validate_responses", "access_log", "public_pages", "metrics_public"):
        lowered = raw.strip().lower()
        if lowered not in ("1", "true", "yes", "0", "false", "no"):
            raise SettingsError(f"{source} must be true or false, got {raw!r}")
        return lowered in ("1", "true", "yes")
    return raw


def _origin(entry: str) -> str:
    """An origin as browsers send it in `Origin`: scheme, host and port only."""
    parts = urlsplit(entry)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ValueError(entry)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(entry)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _each(raw: str, source: str, what: str, parse: Callable) -> list:
    """`raw` as a comma-separated list of `what`, each entry parsed by `parse`."""
    values = []
    for entry in raw.split(","):
        try:
            values.append(parse(entry.strip()))
        except ValueError:
            raise SettingsError(
                f"{source} must be a comma-separated list of {what}, got {entry.strip()!r}"
            ) from None
    return values
