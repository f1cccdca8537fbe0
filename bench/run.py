"""`tox -e bench`: throughput and latency of this server against a bare waitress app, measured
side by side in one run (ratios, because these machines are noisy).

Each server runs pinned to CPU 0 (`taskset -c 0`), wrk (-t2 -c16) pinned to CPU 1; runs of the
baseline and of the server alternate, and medians are reported. Our server is also measured
unpinned, started the way the README says. Needs `wrk` and `taskset` (Debian: wrk, util-linux).
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import seed

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token-0123456789"
POSTGRES_URL = os.environ.get(
    "KENER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

# name -> (method, path, body)
CASES = {
    "POST /api/status": ("POST", "/api/status", {"status": "UP", "latency": 12, "tag": "earth"}),
    "GET /api/status": ("GET", "/api/status?tag=google", None),
    "POST /api/incident": ("POST", "/api/incident", {"title": "bench", "tags": ["earth"]}),
    "GET /api/incident/{n}": ("GET", "/api/incident/1", None),
    "GET /api/incident (search)": (
        "GET",
        "/api/incident?state=open&tags=earth,google&page=3",
        None,
    ),
    "GET comments": ("GET", "/api/incident/1/comment", None),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if (
                httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1).status_code
                == 200
            ):
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s")


def lua_script(method: str, body) -> Path:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"', f'wrk.headers["Authorization"] = "Bearer {TOKEN}"']
    if body is not None:
        lines += [
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(json.dumps(body))}",
        ]
    script.write_text("\n".join(lines) + "\n")
    return script


def wrk(url: str, method: str, body, seconds: int, pinned: bool, connections: int = 16) -> dict:
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(lua_script(method, body)),
        url,
    ]
    if pinned:
        command = ["taskset", "-c", "1", *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = _rps(out)
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non2xx": non2xx + errors,
    }


def _rps(out: str) -> float:
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(
        self, command: list[str], env: dict, ready_path: str, pinned: bool, cpu: int = 0
    ) -> None:
        self.port = free_port()
        command = [c.replace("{port}", str(self.port)) for c in command]
        if pinned:
            command = ["taskset", "-c", str(cpu), *command]
        started = time.monotonic()
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_ready(self.url + ready_path)
        self.startup_s = time.monotonic() - started

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def our_server(
    database_url: str | None,
    data_dir: str,
    pinned: bool,
    monitors: Path | None = None,
    cpu: int = 0,
) -> Server:
    return Server(
        [
            sys.executable,
            "-m",
            "kener_api.cli",
            "serve",
            "--port",
            "{port}",
            "--data-dir",
            data_dir,
            *(["--monitors", str(monitors)] if monitors else []),
        ],
        {"API_TOKEN": TOKEN, **({"DATABASE_URL": database_url} if database_url else {})},
        "/api/status?tag=earth",
        pinned,
        cpu,
    )


def measure(args, label: str, database_url: str | None) -> list[dict]:
    data_dir = tempfile.mkdtemp(prefix="kener-bench-")
    url = database_url or f"sqlite:///{data_dir}/kener.db"
    seed.seed(url, args.incidents)
    baseline = Server([sys.executable, str(HERE / "baseline.py"), "{port}"], {}, "/", True)
    ours = our_server(database_url, data_dir, pinned=True)
    rows = []
    try:
        for name, (method, path, body) in CASES.items():
            wrk(ours.url + path, method, body, 2, True)  # warm-up
            base_runs, our_runs = [], []
            for _ in range(args.rounds):  # interleaved
                base_runs.append(wrk(baseline.url + "/", method, body, args.seconds, True))
                our_runs.append(wrk(ours.url + path, method, body, args.seconds, True))
            rows.append(_row(label, name, base_runs, our_runs, rss_mb(ours.process.pid)))
            print(_format(rows[-1]), flush=True)
        if database_url is None:
            rows.append(_unpinned(args, data_dir, rows))
            print(_format(rows[-1]), flush=True)
        for row in rows:
            row["startup_s"] = round(ours.startup_s, 2)
    finally:
        baseline.stop()
        ours.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


@contextlib.contextmanager
def postgres_schema(name: str):
    """A URL of POSTGRES_URL whose tables live in a schema of their own, dropped afterwards:
    every run starts empty, and nothing else in that database is touched."""
    import psycopg2

    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{name}"
    finally:
        conn = psycopg2.connect(POSTGRES_URL)
        conn.autocommit = True
        conn.cursor().execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.close()


def measure_history(args, label: str, database_url: str | None) -> list[dict]:
    """Cost against history: GET /api/status on a monitor with one day of minute data and on
    one with `--history-days`, both in a database of `--history-monitors` such monitors; and
    search over `--history-incidents` incidents, at 16 connections and at 1."""
    data_dir = Path(tempfile.mkdtemp(prefix="kener-bench-history-"))
    url = database_url or f"sqlite:///{data_dir}/kener.db"
    took = seed.seed_history(url, args.history_monitors, args.history_days, args.history_incidents)
    points = args.history_monitors * args.history_days * 1440
    print(
        f"{label:10} history: {points:,} points ({args.history_monitors} monitors x "
        f"{args.history_days} days) and {args.history_incidents:,} incidents loaded "
        f"in {took:.0f} s",
        flush=True,
    )
    monitors = data_dir / "monitors.yaml"
    seed.monitors_file(monitors, args.history_monitors)
    ours = our_server(database_url, str(data_dir), pinned=True, monitors=monitors)
    long_tag = seed.history_tags(args.history_monitors)[0]
    search = CASES["GET /api/incident (search)"]
    rows = []
    try:
        runs: dict[str, list[dict]] = {"one day": [], "long": [], "search": [], "search c1": []}
        for path in ("/api/status?tag=google", f"/api/status?tag={long_tag}", search[1]):
            wrk(ours.url + path, "GET", None, 2, True)  # warm-up
        for _ in range(args.rounds):  # interleaved
            runs["one day"].append(
                wrk(ours.url + "/api/status?tag=google", "GET", None, args.seconds, True)
            )
            runs["long"].append(
                wrk(ours.url + f"/api/status?tag={long_tag}", "GET", None, args.seconds, True)
            )
            runs["search"].append(wrk(ours.url + search[1], "GET", None, args.seconds, True))
            runs["search c1"].append(wrk(ours.url + search[1], "GET", None, args.seconds, True, 1))
        rss = rss_mb(ours.process.pid)
        one_day = _row(label, "GET /api/status, 1 day", runs["one day"], runs["one day"], rss)
        long = _row(
            label, f"GET /api/status, {args.history_days} days", runs["one day"], runs["long"], rss
        )
        name = f"search, {args.history_incidents // 1000}k incidents"
        rows = [
            one_day,
            long,
            _row(label, name, runs["one day"], runs["search"], rss),
            _row(label, name + ", 1 conn", runs["one day"], runs["search c1"], rss),
        ]
        for row in rows:
            row["baseline"] = "GET /api/status, 1 day"
            print(_format(row), flush=True)
    finally:
        ours.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


PUBLIC_CASES = {
    "GET /": "/",
    "GET /badge/{tag}/uptime": "/badge/{tag}/uptime",
    "GET /badge/{tag}/status": "/badge/{tag}/status",
}


def measure_public(args, label: str, database_url_for) -> list[dict]:
    """The status page and badges with `--public-monitors` monitors of one minute point a
    minute, over 1 day and over `--history-days` days, two servers side by side (interleaved
    runs): the 90-day figure over the 1-day one is what history costs. At 1 connection (the
    p50 a reader waits) and at 16."""
    servers, dirs = {}, []
    try:
        for days in (1, args.history_days):
            data_dir = Path(tempfile.mkdtemp(prefix=f"kener-bench-public-{days}-"))
            dirs.append(data_dir)
            url = database_url_for(days) or f"sqlite:///{data_dir}/kener.db"
            took = seed.seed_history(url, args.public_monitors, days, 30)
            monitors = data_dir / "monitors.yaml"
            seed.monitors_file(monitors, args.public_monitors)
            print(
                f"{label:10} public: {args.public_monitors} monitors x {days} days loaded in "
                f"{took:.0f} s",
                flush=True,
            )
            servers[days] = our_server(
                database_url_for(days), str(data_dir), pinned=True, monitors=monitors
            )
        tag = seed.history_tags(args.public_monitors)[0]
        rows = []
        for name, path in PUBLIC_CASES.items():
            if args.public_case and name not in args.public_case:
                continue
            path = path.replace("{tag}", tag)
            for connections in args.public_connections:
                runs = {days: [] for days in servers}
                for server in servers.values():
                    wrk(server.url + path, "GET", None, 2, True, connections)  # warm-up
                for _ in range(args.rounds):  # interleaved
                    for days, server in servers.items():
                        runs[days].append(
                            wrk(server.url + path, "GET", None, args.seconds, True, connections)
                        )
                for days, server in servers.items():
                    row = _row(
                        label,
                        f"{name}, {days}d, c{connections}",
                        runs[1],
                        runs[days],
                        rss_mb(server.process.pid),
                    )
                    row["baseline"] = "the same, 1 day"
                    rows.append(row)
                    print(_format(row), flush=True)
        return rows
    finally:
        for server in servers.values():
            server.stop()
        for data_dir in dirs:
            shutil.rmtree(data_dir, ignore_errors=True)


def measure_scale_out(args, database_url: str) -> list[dict]:
    """Two server processes on one PostgreSQL database, pinned to CPU 0 and CPU 1, each loaded
    by its own wrk, against the first process alone. On a 2-CPU machine the load generators
    and PostgreSQL share the CPUs with the servers, so the figure is a lower bound."""
    data_dir = tempfile.mkdtemp(prefix="kener-bench-scale-")
    method, path, body = CASES["POST /api/status"]
    servers = [our_server(database_url, data_dir, pinned=True, cpu=cpu) for cpu in (0, 1)]
    try:
        for server in servers:
            wrk(server.url + path, method, body, 2, False)
        alone = statistics.median(
            wrk(servers[0].url + path, method, body, args.seconds, False, 16)["rps"]
            for _ in range(args.rounds)
        )
        combined = []
        for _ in range(args.rounds):
            script = str(lua_script(method, body))
            procs = [
                subprocess.Popen(
                    ["wrk", "-t1", "-c8", f"-d{args.seconds}s", "-s", script, server.url + path],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for server in servers
            ]
            combined.append(sum(_rps(proc.communicate()[0]) for proc in procs))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    rps = statistics.median(combined)
    row = {
        "database": "postgresql",
        "case": "POST /api/status, 2 processes",
        "rps": rps,
        "p50_ms": None,
        "p99_ms": None,
        "non2xx": None,
        "baseline_rps": alone,
        "baseline": "one process",
        "ratio": round(rps / alone, 3),
        "rss_mb": None,
    }
    print(
        f"postgresql POST /api/status, 2 processes   {rps:9.0f} req/s combined  "
        f"x{row['ratio']:.3f} of one process ({alone:.0f})",
        flush=True,
    )
    return [row]


def _unpinned(args, data_dir, rows) -> dict:
    """Our default configuration, unpinned, against its pinned POST /api/status figure."""
    method, path, body = CASES["POST /api/status"]
    server = our_server(None, data_dir, pinned=False)
    try:
        wrk(server.url + path, method, body, 2, False)
        runs = [
            wrk(server.url + path, method, body, args.seconds, False) for _ in range(args.rounds)
        ]
    finally:
        server.stop()
    pinned = next(r for r in rows if r["case"] == "POST /api/status")
    rps = statistics.median(r["rps"] for r in runs)
    return {
        "database": "sqlite",
        "case": "POST /api/status, unpinned",
        "rps": rps,
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "baseline_rps": pinned["rps"],
        "ratio": round(rps / pinned["rps"], 3),
        "rss_mb": None,
    }


def _row(label, name, base_runs, our_runs, rss) -> dict:
    base = statistics.median(r["rps"] for r in base_runs)
    rps = statistics.median(r["rps"] for r in our_runs)
    return {
        "database": label,
        "case": name,
        "rps": rps,
        "p50_ms": statistics.median(r["p50_ms"] for r in our_runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in our_runs),
        "non2xx": sum(r["non2xx"] for r in our_runs),
        "baseline_rps": base,
        "ratio": round(rps / base, 3),
        "rss_mb": round(rss, 1),
    }


def _format(row) -> str:
    return (
        f"{row['database']:10} {row['case']:30} {row['rps']:9.0f} req/s  "
        f"p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms  non-2xx {row['non2xx']:5}  "
        f"x{row['ratio']:.3f} of {row['baseline_rps']:.0f}"
        f"{' (' + row['baseline'] + ')' if 'baseline' in row else ''}  rss {row['rss_mb']} MB"
    )


def postgres_reachable() -> bool:
    try:
        subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--json", default="bench-results.json")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--history-monitors", type=int, default=100)
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument("--history-incidents", type=int, default=100_000)
    parser.add_argument(
        "--no-history", action="store_true", help="skip the history data set (13M points)"
    )
    parser.add_argument("--public-monitors", type=int, default=10)
    parser.add_argument(
        "--only-public", action="store_true", help="only the status page and badge cases"
    )
    parser.add_argument(
        "--public-case", action="append", choices=list(PUBLIC_CASES), help="(repeatable)"
    )
    parser.add_argument("--public-connections", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench needs {tool} (Debian: apt-get install wrk util-linux)")
    print(
        "ratio = our req/s / the bare waitress app's req/s, same run; unpinned ratio = "
        "unpinned / pinned POST /api/status",
        flush=True,
    )
    rows = measure_public(args, "sqlite", lambda days: None)
    if not args.only_public:
        rows += measure(args, "sqlite", None)
        if not args.no_history:
            rows += measure_history(args, "sqlite", None)
    if not args.no_postgres and postgres_reachable():
        schema = f"kener_bench_{os.getpid()}"
        with postgres_schema(f"{schema}_1") as one, postgres_schema(f"{schema}_n") as many:
            rows += measure_public(args, "postgresql", lambda days: one if days == 1 else many)
        if not args.only_public:
            with postgres_schema(schema) as url:
                rows += measure(args, "postgresql", url)
            with postgres_schema(schema) as url:
                rows += measure_scale_out(args, url)
            if not args.no_history:
                with postgres_schema(schema) as url:
                    rows += measure_history(args, "postgresql", url)
    elif not args.no_postgres:
        print("PostgreSQL not reachable: its figures are skipped", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    started = next((row["startup_s"] for row in rows if "startup_s" in row), None)
    if started is not None:
        print(f"startup to first 200: {started} s")
    print(f"results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
