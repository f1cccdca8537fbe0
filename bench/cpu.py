"""CPU per request, in process, without sockets or a load generator: what to profile.

    python bench/cpu.py [CASE ...] [--requests N]
    py-spy record -o profile.svg -- python bench/cpu.py "POST /api/status"
    python bench/cpu.py --public 1 90      # the public cases, 10 monitors x 1 and x 90 days

Each case of `run.CASES` is driven through the same WSGI callable waitress serves, on one
thread, on a fresh SQLite data directory seeded like the benchmark's; it prints microseconds of
CPU per request (process time, so other load on the machine does not count) and checks every
answer is a 2xx.
"""

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run
import seed

from kener_api.app import create_app
from kener_api.settings import Settings
from kener_api.wsgi import ThreadLoopWSGI


def environ(method: str, target: str, body) -> dict:
    path, _, query = target.partition("?")
    raw = json.dumps(body).encode() if body is not None else b""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        # As waitress gives them: HTTP/1.1 requires Host, and the raw target is read from here.
        "HTTP_HOST": "127.0.0.1:8080",
        "REQUEST_URI": target,
        "HTTP_AUTHORIZATION": f"Bearer {run.TOKEN}",
        **({"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw))} if body else {}),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
    }


def cpu_per_request(app, method: str, target: str, body, requests: int) -> float:
    statuses = []

    def start_response(status, headers):
        statuses.append(status)

    for _ in range(requests // 10):  # warm-up
        b"".join(app(environ(method, target, body), start_response))
    statuses.clear()
    started = time.process_time()
    for _ in range(requests):
        b"".join(app(environ(method, target, body), start_response))
    took = time.process_time() - started
    failed = [s for s in statuses if not s.startswith("2")]
    if failed:
        raise SystemExit(f"{method} {target}: {len(failed)} non-2xx answers, first {failed[0]}")
    return took / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(run.CASES))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument(
        "--public",
        type=int,
        nargs="+",
        metavar="DAYS",
        help="measure run.PUBLIC_CASES on 10 monitors with this many days of minute history "
        "each, one data set after the other, and each figure's ratio to the first",
    )
    args = parser.parse_args()
    if args.public:
        return public(args)
    data_dir = Path(tempfile.mkdtemp(prefix="kener-cpu-"))
    try:
        settings = Settings.load(data_dir=data_dir, api_token=run.TOKEN)
        seed.seed(settings.database, args.incidents)
        app = ThreadLoopWSGI(create_app(settings))
        for name in args.cases:
            method, target, body = run.CASES[name]
            micros = cpu_per_request(app, method, target, body, args.requests)
            print(f"{name:30} {micros:7.0f} us CPU per request", flush=True)
        app.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def public(args) -> int:
    """CPU time is the machine's noise-free measure of cost: the same case with more history
    should cost the same."""
    first: dict[str, float] = {}
    for days in args.public:
        # Each data set in a process of its own: storage is one per process.
        out = subprocess.run(
            [sys.executable, __file__, "--public-one", str(days), "--requests", str(args.requests)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in out.splitlines():
            name, micros = line.rsplit(" ", 1)
            first.setdefault(name, float(micros))
            print(
                f"{name:30} {days:3} days {float(micros):7.0f} us CPU per request  "
                f"x{first[name] / float(micros):.3f} of the first's cost",
                flush=True,
            )
    return 0


def public_one(days: int, requests: int) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="kener-cpu-public-"))
    try:
        monitors = data_dir / "monitors.yaml"
        seed.monitors_file(monitors, 10)
        settings = Settings.load(
            data_dir=data_dir, api_token=run.TOKEN, monitors_file=monitors, access_log=False
        )
        seed.seed_history(settings.database, 10, days, 30)
        app = ThreadLoopWSGI(create_app(settings))
        tag = seed.history_tags(10)[0]
        for name, path in run.PUBLIC_CASES.items():
            micros = cpu_per_request(app, "GET", path.replace("{tag}", tag), None, requests)
            print(f"{name} {micros:.0f}", flush=True)
        app.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--public-one":
        requests = int(sys.argv[sys.argv.index("--requests") + 1])
        sys.exit(public_one(int(sys.argv[2]), requests))
    sys.exit(main())
