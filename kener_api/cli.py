"""Command line: `kener-api serve`."""

import argparse
import errno
import importlib.metadata
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import peewee

import storage
from kener_api import logs
from kener_api.app import create_app
from kener_api.auth import TOKEN_FILE_NAME
from kener_api.monitors import MonitorsFileError
from kener_api.retention import RetentionJob
from kener_api.serving import make_server, request_stop, run_until
from kener_api.settings import Settings, SettingsError
from kener_api.wsgi import ThreadLoopWSGI

log = logging.getLogger("kener_api")


def main(argv: list[str] | None = None) -> int:
    # Every file the server writes (database, WAL, backups, the generated token) is its
    # owner's only: status data and key hashes are nobody else's to read.
    os.umask(0o077)
    parser = argparse.ArgumentParser(prog="kener-api", description="Kener status-page API server.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API with waitress")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="port to listen on (default 8080; 0: any free port)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        help="directory for the database and the generated token (default ./data)",
    )
    serve.add_argument(
        "--monitors",
        type=Path,
        dest="monitors_file",
        help="Kener monitors.yaml (default: earth and google)",
    )
    serve.add_argument(
        "--threads", type=int, help="waitress worker threads (default 2 on SQLite, 4 on PostgreSQL)"
    )
    serve.add_argument(
        "--cpu-affinity",
        choices=("auto", "none"),
        help="auto (default): keep the process on one CPU; none: let the scheduler move it",
    )
    serve.add_argument(
        "--token", dest="api_token", help="API token (default: API_TOKEN, else generated)"
    )
    _add_keys_commands(commands)
    backup = commands.add_parser(
        "backup", help="write a consistent copy of the database to FILE, also while serving"
    )
    backup.add_argument("file", type=Path)
    _add_data_dir_option(backup)
    args = parser.parse_args(argv)
    if args.command == "keys":
        return keys_command(args)
    if args.command == "backup":
        return backup_command(args)

    logs.configure()
    options = {name: value for name, value in vars(args).items() if name != "command"}
    try:
        settings = Settings.load(**options)
        logs.configure(settings.log_format, settings.log_level)
        token_source = _token_source(settings)
        app = create_app(settings)
    except (SettingsError, MonitorsFileError, ValueError) as exc:
        print(f"kener-api: error: {exc}", file=sys.stderr)
        return 2
    except peewee.DatabaseError as exc:
        if settings.log_level == "DEBUG":
            log.exception("opening the database")
        print(f"kener-api: error: {database_problem(settings.database, exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the data directory or a file in it cannot be made or read
        print(f"kener-api: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    for line in startup_summary(settings, token_source):
        log.info("%s", line)
    try:
        return serve_forever(app, settings)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        reason = {
            errno.EADDRINUSE: "the address is in use (another process listens there: stop it, "
            "or choose another port with --port or KENER_PORT)",
            errno.EACCES: "no permission (ports below 1024 need privileges: choose another)",
            errno.EADDRNOTAVAIL: "this machine has no such address (check --host)",
        }[exc.errno]
        print(
            f"kener-api: error: cannot listen on {settings.host}:{settings.port}: {reason}",
            file=sys.stderr,
        )
        return 2


def _token_source(settings: Settings) -> str:
    """Where the token clients must send comes from (never the token itself), read before
    the app is built: building it generates one when there is none."""
    if settings.api_token:
        return "from API_TOKEN"
    path = settings.data_dir / TOKEN_FILE_NAME
    if path.exists():
        return f"from the file {path}"
    return f"generated into {path} (shown once, above)"


def startup_summary(settings: Settings, token_source: str) -> list[str]:
    """What an operator checks first: where the data lives, which monitors, who may call."""
    if settings.database_url:
        database = _without_password(settings.database_url)
    else:
        database = f"SQLite file {settings.data_dir.resolve() / 'kener.db'}"
    tags = ", ".join(storage.catalog.tags())
    allowed = []
    if settings.api_ip:
        allowed.append("API_IP " + ", ".join(settings.api_ip))
    if settings.api_ip_regex is not None:
        allowed.append(f"API_IP_REGEX {settings.api_ip_regex.pattern!r}")
    return [
        f"database: {database}",
        f"monitors: {tags} (from {settings.monitors_file})",
        "address allow-list: " + ("; ".join(allowed) if allowed else "none (any address)"),
        f"API token: {token_source}",
    ]


def database_problem(url: str, error: Exception) -> str:
    """One line: which database, what it said, and what to check."""
    said = " ".join(str(error).split()) or error.__class__.__name__
    where = _without_password(url)
    if url.startswith("sqlite"):
        advice = "check the data directory and its permissions"
    else:
        advice = "is PostgreSQL running there, and does the database exist? check DATABASE_URL"
    return f"cannot open the database {where}: {said} ({advice})"


def _add_keys_commands(commands) -> None:
    keys = commands.add_parser(
        "keys", help="manage API keys (stored as hashes in the database)"
    ).add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print it, once")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        choices=storage.keys.SCOPES,
        default="full",
        help="full (default): every operation; push: POST /api/status only; read: GET only",
    )
    keys.add_parser("list", help="name, scope, created, last used (never the key)")
    revoke = keys.add_parser("revoke", help="delete a key; refused from the next request on")
    revoke.add_argument("name")
    for command in keys.choices.values():
        _add_data_dir_option(command)


def _add_data_dir_option(command) -> None:
    """For the commands that work on the server's database rather than serve it."""
    command.add_argument(
        "--data-dir",
        type=Path,
        help="the server's data directory, for its SQLite database (default ./data; "
        "DATABASE_URL takes precedence)",
    )


def keys_command(args) -> int:
    """`kener-api keys create|list|revoke`, on the database the server would use."""
    try:
        settings = Settings.load(data_dir=args.data_dir)
        if settings.database_url is None and not (settings.data_dir / "kener.db").exists():
            # A new, empty database here would hold keys the running server never sees.
            print(
                f"kener-api: error: no database at {settings.data_dir / 'kener.db'}: run this "
                "where the server keeps its data, or give --data-dir or DATABASE_URL",
                file=sys.stderr,
            )
            return 2
        storage.open_database(settings.database)
    except (SettingsError, ValueError) as exc:
        print(f"kener-api: error: {exc}", file=sys.stderr)
        return 2
    except peewee.DatabaseError as exc:
        print(f"kener-api: error: {database_problem(settings.database, exc)}", file=sys.stderr)
        return 2
    try:
        if args.action == "create":
            key = storage.keys.create_key(args.name, args.scope, int(time.time()))
            print(key)
            print(
                f"created key {args.name!r} with scope {args.scope}; it is shown only now",
                file=sys.stderr,
            )
        elif args.action == "list":
            print(f"{'NAME':24} {'SCOPE':6} {'CREATED (UTC)':20} LAST USED (UTC)")
            for key in storage.keys.list_keys():
                print(
                    f"{key.name:24} {key.scope:6} {_utc(key.created_at):20} "
                    f"{_utc(key.last_used_at) if key.last_used_at else 'never'}"
                )
        else:
            storage.keys.revoke_key(args.name)
            print(f"revoked key {args.name!r}", file=sys.stderr)
    except storage.Rejected as exc:
        print(f"kener-api: error: {exc}", file=sys.stderr)
        return 1
    finally:
        storage.close_database()
    return 0


def backup_command(args) -> int:
    try:
        settings = Settings.load(data_dir=args.data_dir)
        storage.maintenance.backup(settings.database, args.file)
    except (SettingsError, storage.maintenance.BackupError) as exc:
        print(f"kener-api: error: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {_without_password(settings.database)} to {args.file}", file=sys.stderr)
    return 0


def _without_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def serve_forever(app, settings: Settings) -> int:
    if settings.cpu_affinity == "auto":
        keep_on_one_cpu()
    wsgi_app = ThreadLoopWSGI(app)
    server = make_server(wsgi_app, settings)

    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("%s: finishing the requests in flight, then stopping", signal.Signals(signum).name)
        request_stop(server, stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    retention = RetentionJob(settings.retention_days, settings.clock)
    retention.start()
    log.info("serving on http://%s:%s", settings.host, server.effective_port)
    try:
        run_until(server, stop)
    finally:
        retention.stop()
        wsgi_app.close()
        storage.close_database()
        log.info("stopped")
    return 0


def keep_on_one_cpu() -> None:
    """Run this process on one of the CPUs it may use. Its threads share one GIL; handed
    between CPUs it can cost most of the throughput (measured: 215 against 515 req/s). Several
    processes spread over the CPUs by their process id."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > 1:
        cpu = allowed[os.getpid() % len(allowed)]
        os.sched_setaffinity(0, {cpu})
        log.info("running on CPU %d (--cpu-affinity none to let it move)", cpu)


def _version() -> str:
    """The installed distribution's version (pyproject.toml)."""
    try:
        return importlib.metadata.version("kener-api")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
