"""Choosing the database from a URL, creating and migrating the schema, transactions."""

import concurrent.futures
import contextlib
import functools
import itertools
import os
import time
from collections.abc import Callable

from peewee import DatabaseError, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse import db_url
from playhouse.migrate import SchemaMigrator

from storage import rollup, versioning
from storage.errors import TooCostly
from storage.models import (
    TABLES,
    ApiKey,
    DataVersion,
    DaySummary,
    HistoryVersion,
    SchemaVersion,
    database,
)

SQLITE_PRAGMAS = {
    # WAL lets readers run beside the one writer; FULL makes a commit durable once
    # acknowledged, even if the machine loses power.
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
}
SQLITE_BUSY_TIMEOUT_SECONDS = 15

# Each migration upgrades the schema by one version: MIGRATIONS[i] takes version i + 1 to
# i + 2. Append only; never edit one that has shipped. A new database is created straight
# from the models at the newest version.
MIGRATIONS: list[Callable[[SchemaMigrator], None]] = [
    # 1 -> 2: API keys.
    lambda migrator: database.create_tables([ApiKey]),
    # 2 -> 3: per-day summaries of the points, built from those stored, kept by triggers.
    lambda migrator: (database.create_tables([DaySummary, HistoryVersion]), rollup.install()),
    # 3 -> 4: the data version, counted up by triggers on every change public answers show.
    lambda migrator: (database.create_tables([DataVersion]), versioning.install()),
]

_openings = itertools.count(1)
_opening = 0


def open_database(url: str) -> None:
    """Point the models at the database named by `url` and bring its schema up to date."""
    global _opening
    if url.startswith("sqlite"):
        _owner_only(url)
        db = db_url.connect(
            url.replace("sqlite://", "sqlite+pool://", 1),
            pragmas=SQLITE_PRAGMAS,
            timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
            # Pooled connections are handed from thread to thread, one at a time.
            check_same_thread=False,
            max_connections=64,
            stale_timeout=300,
        )
    elif url.startswith(("postgres://", "postgresql://")):
        scheme, rest = url.split("://", 1)
        db = db_url.connect(f"{scheme}+pool://{rest}", max_connections=64, stale_timeout=300)
    else:
        raise ValueError(
            f"unsupported DATABASE_URL {url!r}: use sqlite:///PATH or postgresql://..."
        )
    database.initialize(db)
    migrate_schema()
    _opening = next(_openings)


def opening() -> int:
    """Which of the databases this process opened is the current one: what is kept in memory
    from one (storage.overview.data_version) must never pass for another's, whose counters
    may well be equal (the tests open hundreds)."""
    return _opening


def _owner_only(url: str) -> None:
    """Files written before the server ran with umask 077 (`kener_api.cli`) are made its
    owner's only as well: the database, its WAL and shared-memory files."""
    path = url.split("://", 1)[1].removeprefix("/")
    if not path or path.startswith(":memory:"):
        return
    for name in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(name):
            os.chmod(name, 0o600)


def close_database() -> None:
    if database.obj is not None:
        database.obj.close_all()


# Readiness checks run here, one at a time: a check stuck on a database that does not answer
# holds this thread, not a request's, and the checks after it time out as they should.
_READINESS = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")


def readiness(seconds: float) -> str | None:
    """Why the database cannot serve requests now, or None: a read of the schema's version
    (a table, so that a lock or a lost file shows) must answer within `seconds`."""
    future = _READINESS.submit(_read_schema_version)
    try:
        future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        return f"the database did not answer within {seconds:g} s"
    except DatabaseError as error:
        text = " ".join(str(error).split()) or error.__class__.__name__
        return f"the database failed: {text[:200]}"
    return None


def _read_schema_version() -> None:
    with database.connection_context():
        SchemaVersion.select(SchemaVersion.version).limit(1).scalar()


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def migrate_schema(migrations: list[Callable[[SchemaMigrator], None]] = MIGRATIONS) -> int:
    """Create the tables, or apply the migrations not yet applied; answer the schema version.

    Safe to run any number of times, also by several processes starting at once.
    """
    newest = 1 + len(migrations)
    with database.connection_context(), _schema_lock():
        if not SchemaVersion.table_exists():
            database.create_tables(TABLES)
            rollup.install()
            versioning.install()
            SchemaVersion.create(version=newest)
            return newest
        row = SchemaVersion.get()
        migrator = SchemaMigrator.from_database(database.obj)
        for version in range(row.version, newest):
            migrations[version - 1](migrator)
            row.version = version + 1
            row.save()
        return row.version


def _schema_lock():
    if isinstance(database.obj, PostgresqlDatabase):
        transaction = database.atomic()

        class _Locked:
            def __enter__(self):
                transaction.__enter__()
                # Held until the transaction ends: one process migrates at a time.
                database.execute_sql("SELECT pg_advisory_xact_lock(4242)")

            def __exit__(self, *exc):
                return transaction.__exit__(*exc)

        return _Locked()
    return database.atomic("IMMEDIATE")


def write_transaction():
    """A transaction for a write.

    On SQLite it takes the write lock at BEGIN (IMMEDIATE): a transaction that reads before it
    writes then waits for other writers (busy timeout) instead of failing with "database is
    locked" when it tries to write.
    """
    if is_sqlite():
        return database.atomic("IMMEDIATE")
    return database.atomic()


class Statement:
    """SQL written once and run many times, for the hottest paths.

    Peewee rebuilds a query's SQL from its expression tree on every execution; profiled on
    `GET /api/status` that cost several times the query itself. `{p}` in the text stands for
    the driver's placeholder (`?` on SQLite, `%s` on PostgreSQL).
    """

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.split())
        self._sql: dict[str, str] = {}  # by placeholder

    def execute(self, *params):
        """A cursor over the statement's result, on the current connection."""
        db = database.obj
        sql = self._sql.get(db.param)
        if sql is None:
            sql = self._sql[db.param] = self.text.format(p=db.param)
        return db.execute_sql(sql, params)


@contextlib.contextmanager
def time_limit(seconds: float, what: str, advice: str):
    """Stop the statements run inside after `seconds` (SQLite: a progress handler that
    interrupts the statement; PostgreSQL: `statement_timeout` for the transaction), raising
    TooCostly: the thread is back at once, instead of held by one expensive request."""
    if is_sqlite():
        connection = database.connection()
        deadline = time.monotonic() + seconds
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        try:
            yield
        except OperationalError as exc:
            if "interrupted" in str(exc):
                raise TooCostly(what, seconds, advice) from None
            raise
        finally:
            connection.set_progress_handler(None, 0)
        return
    try:
        with database.atomic():
            database.execute_sql(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
            yield
    except OperationalError as exc:
        if "statement timeout" in str(exc):
            raise TooCostly(what, seconds, advice) from None
        raise


def reads(fn):
    """Run a storage function on a pooled connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with database.connection_context():
            return fn(*args, **kwargs)

    return wrapper


def writes(fn):
    """Run a storage function on a pooled connection, in one write transaction."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with database.connection_context():
            try:
                with write_transaction():
                    return fn(*args, **kwargs)
            except OperationalError as exc:
                # On some errors (a full disk: SQLITE_FULL) SQLite has rolled the transaction
                # back itself; peewee's own rollback then fails, and would hide the cause.
                cause = exc
                while cause is not None and "no transaction is active" in str(cause):
                    cause = cause.__context__  # past peewee's wrapping of the driver's error
                if cause is not exc and isinstance(cause, DatabaseError):
                    raise cause from None
                raise

    return wrapper
