"""Fixtures: every test gets a fresh database, app and live server.

Tests that touch storage run on SQLite and on PostgreSQL. PostgreSQL is taken from
KENER_TEST_POSTGRES_URL (default: the local server at 127.0.0.1:5432, database `test`); when it
is not reachable those tests are skipped with a message saying so, unless
KENER_REQUIRE_POSTGRES=1 (as in .ci/run), which turns the skip into a failure.
"""

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import peewee
import pytest

import storage
from kener_api import Settings, create_app, json_encoding
from kener_api.serving import make_server, request_stop, run_until
from kener_api.wsgi import ThreadLoopWSGI

POSTGRES_URL = os.environ.get(
    "KENER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TOKEN = "test-token-0123456789"
# A fixed "now" (2026-03-10 12:34:56 UTC) keeps time arithmetic in the tests deterministic.
START = 1_773_146_096


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _json_tokens(text: str):
    """A JSON text as its values, keys in order, and number types: what a client reads."""
    return json.loads(
        text,
        object_pairs_hook=list,
        parse_int=lambda digits: ("int", int(digits)),
        parse_float=lambda digits: ("float", float(digits)),
    )


@pytest.fixture(autouse=True)
def _json_answers_as_before(monkeypatch):
    """Every JSON answer a test makes (in this process) is also encoded by Connexion's default
    jsonifier: both must be the same JSON (kener_api.json_encoding)."""
    different = []
    encode = json_encoding.Jsonifier.dumps
    default = json_encoding.DefaultJsonifier()

    def compared(self, data, **kwargs):
        text = encode(self, data, **kwargs)
        before = default.dumps(data, **kwargs)
        if _json_tokens(text) != _json_tokens(before) or not text.endswith("\n"):
            different.append((before, text))
        return text

    monkeypatch.setattr(json_encoding.Jsonifier, "dumps", compared)
    yield
    assert not different, f"JSON answers differ from the default jsonifier's: {different[:3]}"


def _postgres_problem() -> str | None:
    db = peewee.PostgresqlDatabase(None)
    try:
        from playhouse.db_url import parse

        db.init(**parse(POSTGRES_URL))
        db.connect()
        db.close()
    except Exception as exc:  # any failure means: not usable here
        return f"{type(exc).__name__}: {str(exc).strip()}"
    return None


_POSTGRES_PROBLEM = _postgres_problem()


# Each test run works in a schema of its own, so that runs at the same time (two developers'
# pytest runs, CI and a benchmark) do not drop each other's tables.
POSTGRES_SCHEMA = f"kener_test_{os.getpid()}"


def _fresh_postgres() -> str:
    if _POSTGRES_PROBLEM:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_URL} ({_POSTGRES_PROBLEM}); "
            "set KENER_TEST_POSTGRES_URL to run the PostgreSQL variants"
        )
        if os.environ.get("KENER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    storage.close_database()
    from playhouse.db_url import connect

    db = connect(POSTGRES_URL)
    with db:
        db.execute_sql(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
        db.execute_sql(f"CREATE SCHEMA {POSTGRES_SCHEMA}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{POSTGRES_SCHEMA}"


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_schema():
    yield
    if _POSTGRES_PROBLEM is None:
        from playhouse.db_url import connect

        storage.close_database()
        db = connect(POSTGRES_URL)
        with db:
            db.execute_sql(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kener.db'}"
    return _fresh_postgres()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path, database_url, clock) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        api_token=TOKEN,
        clock=clock,
    )


@pytest.fixture
def app(settings):
    application = create_app(settings)
    yield application
    storage.close_database()


@dataclass
class LiveServer:
    url: str
    settings: Settings


@contextlib.contextmanager
def serving(asgi_app, settings: Settings | None = None, **server_options):
    """Serve an ASGI app with waitress, as `kener-api serve` does (its limits and error
    answers, from `settings`), on a free port; yield its URL.

    Everything it opens is closed afterwards (a run opens hundreds of these): its event loops,
    its threads and its sockets.
    """
    wsgi_app = ThreadLoopWSGI(asgi_app)
    server = make_server(
        wsgi_app,
        dataclasses.replace(settings or Settings(), host="127.0.0.1", port=0),
        threads=4,
        **server_options,
    )
    stopping = threading.Event()
    thread = threading.Thread(target=run_until, args=(server, stopping), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        request_stop(server, stopping)
        thread.join(timeout=5)
        wsgi_app.close()


@pytest.fixture
def live_server(app, settings):
    """The app served by waitress on a free port."""
    with serving(app, settings) as url:
        yield LiveServer(url, settings)


@pytest.fixture
def api(live_server):
    """An HTTP client of the live server that sends the right token."""
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def anonymous(live_server):
    """An HTTP client of the live server that sends no token."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


SERVE_STARTUP_SECONDS = 30


@contextlib.contextmanager
def serve_processes(database_url: str, tmp_path, count: int = 2, headers: dict | None = None):
    """`count` `kener-api serve` processes on one database, each with an httpx client (sending
    `headers`); yield the clients. Every process is stopped afterwards."""
    started = []
    try:
        for i in range(count):
            started.append(
                start_serve_process(
                    database_url, tmp_path / f"instance-{i}", tmp_path / f"instance-{i}.log"
                )
            )
        clients = [httpx.Client(base_url=url, headers=headers, timeout=30) for _, url in started]
        try:
            yield clients
        finally:
            for client in clients:
                client.close()
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=30)


def start_serve_process(database_url: str, data_dir, log_path) -> tuple[subprocess.Popen, str]:
    """`kener-api serve` in a process of its own on a free port, on `database_url`, logging to
    `log_path`; answer the process and its URL once it serves."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kener_api.cli", "serve", "--port", "0"],
            env={
                **os.environ,
                "API_TOKEN": TOKEN,
                "DATABASE_URL": database_url,
                "KENER_DATA_DIR": str(data_dir),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVE_STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"serving on (http://\S+)", Path(log_path).read_text())
        if found:
            return process, found.group(1)
        assert process.poll() is None, Path(log_path).read_text()
        time.sleep(0.05)
    process.kill()
    raise AssertionError(
        f"no server within {SERVE_STARTUP_SECONDS} s: {Path(log_path).read_text()}"
    )
