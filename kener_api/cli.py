"""Command line: `kener-api serve`."""

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from waitress.server import create_server

import storage
from kener_api.app import create_app
from kener_api.monitors import MonitorsFileError
from kener_api.settings import Settings, SettingsError
from kener_api.wsgi import ThreadLoopWSGI

log = logging.getLogger("kener_api")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kener-api", description="Kener status-page API server.")
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
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # waitress warns "Task queue depth is N" on nearly every request under load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    options = {name: value for name, value in vars(args).items() if name != "command"}
    try:
        settings = Settings.load(**options)
        app = create_app(settings)
    except (SettingsError, MonitorsFileError, ValueError) as exc:
        print(f"kener-api: error: {exc}", file=sys.stderr)
        return 2
    return serve_forever(app, settings)


def serve_forever(app, settings: Settings) -> int:
    if settings.cpu_affinity == "auto":
        keep_on_one_cpu()
    wsgi_app = ThreadLoopWSGI(app)
    server = create_server(
        wsgi_app,
        host=settings.host,
        port=settings.port,
        threads=settings.worker_threads,
        ident="kener-api",
        # poll() rather than select(), which fails once a descriptor number passes 1023.
        asyncore_use_poll=True,
    )

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("serving on http://%s:%s", settings.host, server.effective_port)
    try:
        server.run()  # returns on Ctrl-C or SIGTERM: waitress catches KeyboardInterrupt itself
    finally:
        server.close()
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


if __name__ == "__main__":
    sys.exit(main())
