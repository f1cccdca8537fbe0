"""`tox -e bench`: throughput and latency of every operation of openapi.yaml against a bare
waitress app, measured side by side in one run (ratios, because these machines are noisy).

Each server runs pinned to CPU 0 (`taskset -c 0`), wrk (-t2 -c16) pinned to CPU 1. Cases come
in groups; each round of a group is one run of the baseline, then one run of each case, and
medians over the rounds are reported. The API cases run on `--incidents` incidents, the public
and service ones on `--public-monitors` monitors with a point a minute for `--history-days`
days. Also: our server unpinned, started the way the README says; history at scale (13 million
points); two processes on one PostgreSQL; and, given `--kener2-url`, the original Kener 2.0.0
(already running, pinned to CPU 0 by whoever started it) in the same rounds as our API cases.
Needs `wrk` and `taskset` (Debian: wrk, util-linux).

    tox -e bench                                     # everything (about 22 minutes)
    tox -e bench -- --quick --no-postgres            # 1 round of 2 s, no 13M-point history
    tox -e bench -- --case badges --case getIncident # groups, operationIds or case names
    tox -e bench -- --list                           # the cases and groups
"""

import argparse
import atexit
import contextlib
import dataclasses
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
BASELINE = "bare waitress app"
KENER2 = "kener 2.0.0"

STATUS_BODY = {"status": "UP", "latency": 12, "tag": "earth"}
# Incidents the seed created (numbers 1, 2, ...): each write changes one of its own, so that no
# read measures an incident the writes grow (comments are not paged).
READ_INCIDENT, PATCHED_INCIDENT, COMMENTED_INCIDENT, STATUS_INCIDENT = 1, 2, 3, 4
# An If-None-Match that matches nothing, sent when the first answer carried no ETag.
NO_ETAG = '"no-etag-in-the-first-answer"'


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    operation: str
    method: str
    path: str  # "{tag}" stands for the first history monitor
    body: object = None
    # Which server of the group's data set answers: "api", "public" (--history-days of
    # history), "public-1d" (one day, the same monitors) or "kener2".
    server: str = "api"
    # Sent without credentials, as a browser or a badge's reader does.
    anonymous: bool = False
    # Sends If-None-Match with the ETag of a first answer; counts the statuses answered.
    conditional: bool = False
    # Reads no database: measured once, on SQLite.
    db_free: bool = False


@dataclasses.dataclass(frozen=True)
class Group:
    name: str
    dataset: str  # "api": --incidents incidents; "public": the monitors with history
    cases: tuple[Case, ...]
    connections: int = 16
    # The baseline gets what the group's cases send: a POST with a JSON body for writes.
    baseline_body: object = None


def _public(name, operation, path, **kw) -> Case:
    return Case(name, operation, "GET", path, server="public", anonymous=True, **kw)


def _one_day(case: Case) -> Case:
    return dataclasses.replace(case, name=case.name + ", 1 day", server="public-1d")


def _one_connection(case: Case) -> Case:
    return dataclasses.replace(case, name=case.name + ", 1 conn")


STATUS_PAGE = _public("GET /", "getStatusPage", "/")
UPTIME_BADGE = _public("GET /badge/{tag}/uptime", "getUptimeBadge", "/badge/{tag}/uptime")
STATUS_BADGE = _public("GET /badge/{tag}/status", "getStatusBadge", "/badge/{tag}/status")
# 90 days against one day, the same monitors: what history costs the public side.
DAY_PAIRS = [STATUS_PAGE, UPTIME_BADGE, STATUS_BADGE]

GROUPS = [
    Group(
        "api-writes",
        "api",
        (
            Case("POST /api/status", "updateMonitorStatus", "POST", "/api/status", STATUS_BODY),
            Case(
                "POST /api/incident",
                "createIncident",
                "POST",
                "/api/incident",
                {"title": "bench", "tags": ["earth"]},
            ),
            Case(
                "PATCH /api/incident/{n}",
                "updateIncident",
                "PATCH",
                f"/api/incident/{PATCHED_INCIDENT}",
                {"title": "bench, replaced", "body": "replaced by the bench", "tags": ["earth"]},
            ),
            Case(
                "POST /api/incident/{n}/comment",
                "addIncidentComment",
                "POST",
                f"/api/incident/{COMMENTED_INCIDENT}/comment",
                {"body": "a comment from the bench"},
            ),
            Case(
                "POST /api/incident/{n}/status",
                "updateIncidentStatus",
                "POST",
                f"/api/incident/{STATUS_INCIDENT}/status",
                {"isIdentified": True},
            ),
            Case(
                "POST /api/status",
                "updateMonitorStatus",
                "POST",
                "/api/status",
                STATUS_BODY,
                server="kener2",
            ),
        ),
        baseline_body=STATUS_BODY,
    ),
    Group(
        "api-reads",
        "api",
        (
            Case("GET /api/status", "getMonitorStatus", "GET", "/api/status?tag=google"),
            Case("GET /api/incident/{n}", "getIncident", "GET", f"/api/incident/{READ_INCIDENT}"),
            Case(
                "GET /api/incident/{n}/comment",
                "getIncidentComments",
                "GET",
                f"/api/incident/{READ_INCIDENT}/comment",
            ),
            Case(
                "GET /api/incident (search)",
                "searchIncidents",
                "GET",
                "/api/incident?state=open&tags=earth,google&page=3",
            ),
            Case(
                "GET /api/status",
                "getMonitorStatus",
                "GET",
                "/api/status?tag=google",
                server="kener2",
            ),
        ),
    ),
    Group(
        "pages",
        "public",
        (
            STATUS_PAGE,
            _one_day(STATUS_PAGE),
            _public("GET /incident/{n}", "getIncidentPage", f"/incident/{READ_INCIDENT}"),
            _public("GET /embed-{tag}", "getMonitorEmbed", "/embed-{tag}"),
            dataclasses.replace(STATUS_PAGE, name="GET /, If-None-Match", conditional=True),
        ),
    ),
    Group(
        "badges",
        "public",
        (
            STATUS_BADGE,
            _one_day(STATUS_BADGE),
            UPTIME_BADGE,
            _one_day(UPTIME_BADGE),
            _public("GET /badge/{tag}/dot", "getDotBadge", "/badge/{tag}/dot"),
            dataclasses.replace(
                STATUS_BADGE, name="GET /badge/{tag}/status, If-None-Match", conditional=True
            ),
        ),
    ),
    Group(
        "feeds",
        "public",
        (
            _public("GET /rss.xml", "getRssFeed", "/rss.xml"),
            _public("GET /history.atom", "getAtomFeed", "/history.atom"),
            _public("GET /favicon.ico", "getFavicon", "/favicon.ico", db_free=True),
            _public("GET /assets/{asset}", "getAsset", "/assets/status.css", db_free=True),
        ),
    ),
    # The p50 one reader waits, at 90 days and at one day.
    Group(
        "one-connection",
        "public",
        tuple(
            _one_connection(case)
            for pair in DAY_PAIRS
            for case in (dataclasses.replace(pair, server="public"), _one_day(pair))
        ),
        connections=1,
    ),
    Group(
        "service",
        "public",
        (
            _public("GET /healthz", "getLiveness", "/healthz", db_free=True),
            _public("GET /readyz", "getReadiness", "/readyz"),
            # Needs a credential (KENER_METRICS_PUBLIC is off by default).
            Case("GET /metrics", "getMetrics", "GET", "/metrics", server="public"),
        ),
    ),
    Group(
        "contract",
        "public",
        (
            _public("GET /openapi.yaml", "getContractYaml", "/openapi.yaml", db_free=True),
            _public("GET /openapi.json", "getContractJson", "/openapi.json", db_free=True),
            _public("GET /docs", "getApiDocs", "/docs", db_free=True),
            _public("GET /docs/{asset}", "getApiDocsAsset", "/docs/swagger-ui.css", db_free=True),
        ),
    ),
]
PUBLIC_GROUPS = ("pages", "badges", "feeds", "one-connection")
# Not cases of a group, selectable by --case all the same.
EXTRAS = ("unpinned", "history", "scale-out")

# For bench/cpu.py: name -> (method, target, body) of our API cases; the public ones it
# compares over days of history.
CASES = {
    case.name: (case.method, case.path, case.body)
    for group in GROUPS
    if group.dataset == "api"
    for case in group.cases
    if case.server == "api"
}
PUBLIC_CASES = {case.name: case.path for case in DAY_PAIRS}


def all_cases() -> list[Case]:
    return [case for group in GROUPS for case in group.cases]


def operations_of_contract() -> set[str]:
    return set(
        re.findall(r"^      operationId: (\w+)$", (HERE.parent / "openapi.yaml").read_text(), re.M)
    )


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


_SCRIPTS: list[Path] = []  # the directory of this run's wrk scripts, once made

# Each wrk thread counts the statuses it got; `done` prints them all. Only for the
# conditional cases: a response callback costs wrk time on every answer.
COUNT_STATUSES = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\\n", status, n))
    end
  end
end
"""


def lua_script(method: str, body, headers: dict[str, str], count_statuses=False) -> Path:
    if not _SCRIPTS:
        _SCRIPTS.append(Path(tempfile.mkdtemp(prefix="kener-bench-lua-")))
        atexit.register(shutil.rmtree, _SCRIPTS[0], True)
    script = Path(tempfile.mkstemp(suffix=".lua", dir=_SCRIPTS[0])[1])
    lines = [f'wrk.method = "{method}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body is not None:
        lines += [
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(json.dumps(body))}",
        ]
    script.write_text("\n".join(lines) + "\n" + (COUNT_STATUSES if count_statuses else ""))
    return script


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrk(url: str, script: Path, seconds: float, pinned: bool = True, connections: int = 16) -> dict:
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if pinned:
        command = ["taskset", "-c", "1", *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = _rps(out)
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    statuses: dict[str, int] = {}
    for status, n in re.findall(r"^status (\d+) (\d+)$", out, re.M):
        statuses[status] = statuses.get(status, 0) + int(n)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non2xx": non2xx + errors,
        "statuses": statuses,
    }


def _rps(out: str) -> float:
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def _proc_kb(pid: int | None, field: str) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: int | None) -> float | None:
    mb = _proc_kb(pid, "VmRSS")
    return None if mb is None else round(mb, 1)


def peak_rss_mb(pid: int | None) -> float | None:
    mb = _proc_kb(pid, "VmHWM")
    return None if mb is None else round(mb, 1)


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:`port` (or any address), when this user may see its
    file descriptors: the way to the RSS of a server the bench did not start."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


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
        self.pid = self.process.pid
        self.token = TOKEN
        self.url = f"http://127.0.0.1:{self.port}"
        wait_ready(self.url + ready_path)
        self.startup_s = time.monotonic() - started

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclasses.dataclass
class Remote:
    """A server the operator started: the original Kener 2.0.0."""

    url: str
    token: str
    pid: int | None = None

    def stop(self) -> None:
        pass


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


@dataclasses.dataclass
class Plan:
    """A case made ready against its server: the probe's answer and the wrk script."""

    case: Case
    url: str
    script: Path
    probe_status: int
    if_none_match: str | None = None


def prepare(case: Case, server, tag: str) -> Plan:
    """One request before the load, to check the case gets the answer it should (a case
    answered non-2xx is a wrong case, not a slow server); a conditional case reads the ETag
    of a first answer here and sends it from then on."""
    url = server.url + case.path.replace("{tag}", tag)
    headers = {} if case.anonymous else bearer(server.token)
    if_none_match = None
    if case.conditional:
        first = httpx.request(case.method, url, headers=headers, timeout=30)
        if_none_match = first.headers.get("etag") or NO_ETAG
        headers = {**headers, "If-None-Match": if_none_match}
    probe = httpx.request(case.method, url, headers=headers, json=case.body, timeout=30)
    return Plan(
        case,
        url,
        lua_script(case.method, case.body, headers, count_statuses=case.conditional),
        probe.status_code,
        if_none_match,
    )


def expected(plan: Plan) -> bool:
    if plan.case.conditional:
        return plan.probe_status in (200, 304)
    return 200 <= plan.probe_status < 300


def run_group(
    args, label: str, group: Group, cases: list[Case], servers: dict, warmed: set
) -> list[dict]:
    """The group's rounds: in each, one baseline run, then one run of each case. A case is
    warmed up unless the same request to the same server was (`warmed`)."""
    tag = seed.history_tags(args.public_monitors)[0]
    plans = [prepare(case, servers[case.server], tag) for case in cases]
    for plan in plans:
        if not expected(plan):
            print(
                f"{label:10} {plan.case.name}: answered {plan.probe_status} before the load, "
                f"expected {'200 or 304' if plan.case.conditional else 'a 2xx'}",
                flush=True,
            )
    method = "POST" if group.baseline_body is not None else "GET"
    base_script = lua_script(method, group.baseline_body, bearer())
    base_url = servers["baseline"].url + "/"
    for plan in plans:
        if (plan.url, plan.if_none_match) not in warmed:
            wrk(plan.url, plan.script, args.warmup, True, group.connections)
            warmed.add((plan.url, plan.if_none_match))
    base_runs: list[dict] = []
    runs: dict[int, list[dict]] = {i: [] for i in range(len(plans))}
    for _ in range(args.rounds):  # interleaved
        base_runs.append(wrk(base_url, base_script, args.seconds, True, group.connections))
        for i, plan in enumerate(plans):
            runs[i].append(wrk(plan.url, plan.script, args.seconds, True, group.connections))
    rows = []
    for i, plan in enumerate(plans):
        case = plan.case
        server = servers[case.server]
        row = _row(
            KENER2 if case.server == "kener2" else label,
            case.name,
            base_runs,
            runs[i],
            rss_mb(server.pid),
        )
        row.update(
            operation=case.operation,
            group=group.name,
            server=case.server,
            connections=group.connections,
            probe_status=plan.probe_status,
            expected_status=expected(plan),
        )
        if case.server.startswith("public"):
            row["days"] = 1 if case.server == "public-1d" else args.history_days
        if case.conditional:
            statuses: dict[str, int] = {}
            for run in runs[i]:
                for status, n in run["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + n
            row["statuses"] = statuses
            row["if_none_match"] = plan.if_none_match
        rows.append(row)
        print(_format(row), flush=True)
    return rows


def selected_cases(args, label: str, group: Group) -> list[Case]:
    cases = []
    for case in group.cases:
        if case.server == "kener2" and (label != "sqlite" or not args.kener2_url):
            continue
        if case.db_free and label != "sqlite":
            continue  # the same code on either database: measured once
        if args.only_public and group.name not in PUBLIC_GROUPS:
            continue
        if args.case and not (
            {group.name, case.name, case.operation} & set(args.case)
            or (case.server == "kener2" and KENER2 in args.case)
        ):
            continue
        cases.append(case)
    return cases


def measure(args, label: str, urls) -> list[dict]:
    """Every group of this database: the API data set's server, the public data set's
    servers (90 days and, for the comparison, one day) and the baseline, all pinned to CPU 0
    and up for the whole pass; a server idle between its groups costs the others nothing."""
    chosen = {group.name: selected_cases(args, label, group) for group in GROUPS}
    needed = {case.server for cases in chosen.values() for case in cases}
    servers: dict = {}
    warmed: set = set()
    dirs = []
    rows: list[dict] = []
    try:
        if needed & {"api", "public", "public-1d", "kener2"}:
            servers["baseline"] = Server(
                [sys.executable, str(HERE / "baseline.py"), "{port}"], {}, "/", True
            )
        if "api" in needed or (label == "sqlite" and "unpinned" in extras(args)):
            data_dir = Path(tempfile.mkdtemp(prefix="kener-bench-"))
            dirs.append(data_dir)
            url = urls("api") or f"sqlite:///{data_dir}/kener.db"
            seed.seed(url, args.incidents)
            servers["api"] = our_server(urls("api"), str(data_dir), pinned=True)
            servers["api"].data_dir = data_dir
        for name, days in (("public", args.history_days), ("public-1d", 1)):
            if name not in needed:
                continue
            data_dir = Path(tempfile.mkdtemp(prefix=f"kener-bench-public-{days}-"))
            dirs.append(data_dir)
            url = urls(name) or f"sqlite:///{data_dir}/kener.db"
            took = seed.seed_history(url, args.public_monitors, days, 30)
            monitors = data_dir / "monitors.yaml"
            seed.monitors_file(monitors, args.public_monitors)
            print(
                f"{label:10} public: {args.public_monitors} monitors x {days} days loaded in "
                f"{took:.0f} s",
                flush=True,
            )
            servers[name] = our_server(urls(name), str(data_dir), pinned=True, monitors=monitors)
        if "kener2" in needed:
            servers["kener2"] = args.kener2
        for group in GROUPS:
            if chosen[group.name]:
                rows += run_group(args, label, group, chosen[group.name], servers, warmed)
        if label == "sqlite" and "unpinned" in extras(args):
            rows.append(_unpinned(args, servers["api"].data_dir, rows))
            print(_format(rows[-1]), flush=True)
        for row in rows:
            if "api" in servers and row["database"] == label:
                row["startup_s"] = round(servers["api"].startup_s, 2)
        for name, server in servers.items():
            rows.append(
                {
                    "database": KENER2 if name == "kener2" else label,
                    "server": name,
                    "rss_mb": rss_mb(server.pid),
                    "peak_rss_mb": peak_rss_mb(server.pid),
                }
            )
    finally:
        for server in servers.values():
            server.stop()
        for data_dir in dirs:
            shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def extras(args) -> set[str]:
    chosen = set(EXTRAS)
    if args.case:
        chosen &= set(args.case)
        # The unpinned figure is a ratio to the pinned one.
        if {"POST /api/status", "updateMonitorStatus", "api-writes"} & set(args.case):
            chosen.add("unpinned")
    if args.only_public:
        chosen = set()
    if args.no_history:
        chosen.discard("history")
    return chosen


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
    search = CASES["GET /api/incident (search)"][1]
    paths = {
        "one day": "/api/status?tag=google",
        "long": f"/api/status?tag={long_tag}",
        "search": search,
    }
    scripts = {name: lua_script("GET", None, bearer()) for name in paths}
    rows = []
    try:
        runs: dict[str, list[dict]] = {"one day": [], "long": [], "search": [], "search c1": []}
        for name, path in paths.items():
            wrk(ours.url + path, scripts[name], args.warmup)
        for _ in range(args.rounds):  # interleaved
            for name, path in paths.items():
                runs[name].append(wrk(ours.url + path, scripts[name], args.seconds))
            runs["search c1"].append(
                wrk(ours.url + search, scripts["search"], args.seconds, True, 1)
            )
        rss = rss_mb(ours.pid)
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
            row["group"] = "history"
            print(_format(row), flush=True)
        rows.append(
            {
                "database": label,
                "server": "history",
                "rss_mb": rss,
                "peak_rss_mb": peak_rss_mb(ours.pid),
            }
        )
    finally:
        ours.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def measure_scale_out(args, database_url: str) -> list[dict]:
    """Two server processes on one PostgreSQL database, pinned to CPU 0 and CPU 1, each loaded
    by its own wrk, against the first process alone. On a 2-CPU machine the load generators
    and PostgreSQL share the CPUs with the servers, so the figure is a lower bound."""
    data_dir = tempfile.mkdtemp(prefix="kener-bench-scale-")
    method, path, body = CASES["POST /api/status"]
    script = lua_script(method, body, bearer())
    servers = [our_server(database_url, data_dir, pinned=True, cpu=cpu) for cpu in (0, 1)]
    try:
        for server in servers:
            wrk(server.url + path, script, args.warmup, False)
        alone = statistics.median(
            wrk(servers[0].url + path, script, args.seconds, False, 16)["rps"]
            for _ in range(args.rounds)
        )
        combined = []
        for _ in range(args.rounds):
            procs = [
                subprocess.Popen(
                    [
                        "wrk",
                        "-t1",
                        "-c8",
                        f"-d{args.seconds}s",
                        "-s",
                        str(script),
                        server.url + path,
                    ],
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
        "group": "scale-out",
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
    script = lua_script(method, body, bearer())
    server = our_server(None, str(data_dir), pinned=False)
    try:
        wrk(server.url + path, script, args.warmup, False)
        runs = [wrk(server.url + path, script, args.seconds, False) for _ in range(args.rounds)]
        rss = rss_mb(server.pid)
    finally:
        server.stop()
    pinned = next(
        (r for r in rows if r["case"] == "POST /api/status" and r["database"] == "sqlite"), None
    )
    rps = statistics.median(r["rps"] for r in runs)
    if pinned is None:  # POST /api/status was not among the cases: pinned now, for the ratio
        server = our_server(None, str(data_dir), pinned=True)
        try:
            wrk(server.url + path, script, args.warmup)
            base = statistics.median(
                wrk(server.url + path, script, args.seconds)["rps"] for _ in range(args.rounds)
            )
        finally:
            server.stop()
    else:
        base = pinned["rps"]
    return {
        "database": "sqlite",
        "case": "POST /api/status, unpinned",
        "group": "unpinned",
        "rps": rps,
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "baseline_rps": base,
        "baseline": "pinned",
        "ratio": round(rps / base, 3),
        "rss_mb": rss,
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
        "rss_mb": rss,
    }


def _answered(row) -> str:
    statuses = row.get("statuses") or {}
    if not statuses:
        return f"answered {row.get('probe_status')}"
    return "answered " + ", ".join(
        f"{status} x {n:,}" if len(statuses) > 1 else status
        for status, n in sorted(statuses.items())
    )


def _format(row) -> str:
    case = row["case"] + (f" ({_answered(row)})" if "statuses" in row else "")
    return (
        f"{row['database']:11} {case:50} {row['rps']:9.0f} req/s  "
        f"p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms  non-2xx {row['non2xx']:5}  "
        f"x{row['ratio']:.3f} of {row['baseline_rps']:.0f} ({row.get('baseline', BASELINE)})"
        f"  rss {row['rss_mb']} MB"
    )


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def markdown(rows: list[dict]) -> str:
    """What the README's tables take: every case against the baseline; the public side's
    90 days against one day; the other comparisons; memory."""
    cases = [r for r in rows if "case" in r]
    out = [
        "| database | case | req/s | p50 ms | p99 ms | non-2xx | x baseline |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in cases:
        if r.get("baseline", BASELINE) != BASELINE:
            continue
        name = r["case"] + (f" ({_answered(r)})" if "statuses" in r else "")
        out.append(
            f"| {r['database']} | {name} | {r['rps']:,.0f} | {_ms(r['p50_ms'])} | "
            f"{_ms(r['p99_ms'])} | {r['non2xx']:,} | {r['ratio']:.3f} |"
        )
    baselines = [
        r["baseline_rps"]
        for r in cases
        if r.get("baseline", BASELINE) == BASELINE and r.get("connections") == 16
    ]
    if baselines:
        out.append(
            f"\nThe baseline did {min(baselines):,.0f} to {max(baselines):,.0f} req/s at 16 "
            "connections (medians of each group's runs)."
        )
    days = _days_table(cases)
    if days:
        out += ["", *days]
    others = [r for r in cases if r.get("baseline", BASELINE) != BASELINE]
    if others:
        out += [
            "",
            "| database | case | req/s | p50 ms | ratio |",
            "|---|---|---:|---:|---:|",
        ]
        for r in others:
            p50 = "" if r["p50_ms"] is None else _ms(r["p50_ms"])
            out.append(
                f"| {r['database']} | {r['case']} | {r['rps']:,.0f} | {p50} | "
                f"{r['ratio']:.3f} x {r['baseline']} |"
            )
    memory = [r for r in rows if "server" in r and "case" not in r and r["rss_mb"] is not None]
    if memory:
        out += [
            "",
            "| database | server | RSS after load, MB | peak RSS, MB |",
            "|---|---|---:|---:|",
        ]
        for r in memory:
            out.append(f"| {r['database']} | {r['server']} | {r['rss_mb']} | {r['peak_rss_mb']} |")
    return "\n".join(out)


def _days_table(cases: list[dict]) -> list[str]:
    """The README's public table: 1 day and the history's days side by side."""
    by_key = {}
    for r in cases:
        if "days" in r and "statuses" not in r:
            base = r["case"].replace(", 1 day", "").replace(", 1 conn", "")
            by_key[(r["database"], base, r["connections"], r["days"])] = r
    out = []
    for (database, base, connections, days), long in by_key.items():
        one = by_key.get((database, base, connections, 1))
        if days == 1 or one is None:
            continue
        if not out:
            out = [
                f"| database | case | connections | 1 day req/s | {days} days req/s | "
                f"p50 ms ({days} days) | {days} d / 1 d |",
                "|---|---|---:|---:|---:|---:|---:|",
            ]
        out.append(
            f"| {database} | {base} | {connections} | {one['rps']:,.0f} | {long['rps']:,.0f} | "
            f"{_ms(long['p50_ms'])} | {long['rps'] / one['rps']:.2f} |"
        )
    return out


# Seconds per data point loaded, measured on a 2-vCPU VM: PostgreSQL's rollup triggers and the
# VACUUM after the load make its points six times dearer than SQLite's.
SEED_SECONDS_PER_POINT = {"sqlite": 2.5e-6, "postgresql": 1.6e-5}


def estimate_seconds(args, databases: list[str]) -> float:
    """The run's length from its plan: runs, warm-ups, data loads and server starts."""
    total = 0.0
    for label in databases:
        per_point = SEED_SECONDS_PER_POINT[label]
        needed = set()
        runs = 0
        for group in GROUPS:
            cases = selected_cases(args, label, group)
            if cases:
                runs += args.rounds * (1 + len(cases))
                total += len(cases) * args.warmup
                needed |= {case.server for case in cases}
        chosen = extras(args)
        if label == "sqlite" and "unpinned" in chosen:
            runs += args.rounds
            total += args.warmup + 1
        if "history" in chosen:
            runs += args.rounds * 4
            total += 3 * args.warmup + 1
            total += per_point * args.history_monitors * args.history_days * 1440
            total += per_point * 50 * args.history_incidents
        if label == "postgresql" and "scale-out" in chosen:
            runs += 2 * args.rounds
            total += args.warmup + 2
        if "public" in needed:
            total += per_point * args.public_monitors * args.history_days * 1440
        total += len(needed) + per_point * 50 * args.incidents  # starts, the API data set
        total += runs * (args.seconds + 0.1)
    return total


def postgres_reachable() -> bool:
    try:
        subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return False
    return True


def kener2(args) -> Remote | None:
    """The running Kener 2.0.0, checked, with google given the points our server's data set
    has today (a point a minute since 00:00 UTC): GET /api/status reads today's points."""
    if not args.kener2_url or args.no_kener2:
        return None
    if not any(
        case.server == "kener2" for g in GROUPS for case in selected_cases(args, "sqlite", g)
    ):
        return None
    remote = Remote(args.kener2_url.rstrip("/"), args.kener2_token)
    url = httpx.URL(remote.url)
    if url.host in ("127.0.0.1", "localhost", "::1"):
        remote.pid = listening_pid(url.port or 80)
    now = int(time.time())
    try:
        with httpx.Client(base_url=remote.url, headers=bearer(remote.token), timeout=10) as c:
            for minute in range(now - now % 86_400, now - now % 60 + 1, 60):
                answer = c.post(
                    "/api/status",
                    json={
                        "status": "UP",
                        "latency": 1,
                        "tag": "google",
                        "timestampInSeconds": minute,
                    },
                )
                if answer.status_code != 200:
                    raise SystemExit(
                        f"Kener 2.0.0 at {remote.url}: POST /api/status answered "
                        f"{answer.status_code} {answer.text[:200]} (its API_TOKEN is "
                        "--kener2-token; it needs the monitors earth and google)"
                    )
    except httpx.HTTPError as error:
        raise SystemExit(f"Kener 2.0.0 at {remote.url} does not answer: {error}") from None
    allowed = None
    if remote.pid is not None:
        status = Path(f"/proc/{remote.pid}/status").read_text()
        allowed = re.search(r"Cpus_allowed_list:\s+(\S+)", status).group(1)
    print(
        f"Kener 2.0.0 at {remote.url}: pid {remote.pid or 'unknown'}, CPUs {allowed or 'unknown'}"
        + ("" if allowed in (None, "0") else " (not pinned to CPU 0 as our servers are)"),
        flush=True,
    )
    return remote


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("--seconds", type=int, default=3, help="per run (default 3)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="seconds, per case (default 1)")
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 2 s, 1 s warm-ups, no 13M-point history"
    )
    parser.add_argument(
        "--case",
        action="append",
        metavar="NAME",
        help="a group, an operationId, a case's name, 'kener 2.0.0' or one of "
        f"{', '.join(EXTRAS)} (repeatable; --list shows them)",
    )
    parser.add_argument("--list", action="store_true", help="list the groups and cases")
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
        "--only-public", action="store_true", help="only the status page, badges and feeds"
    )
    parser.add_argument(
        "--kener2-url",
        default=os.environ.get("KENER2_URL"),
        help="a running Kener 2.0.0, pinned to CPU 0 (default: $KENER2_URL)",
    )
    parser.add_argument(
        "--kener2-token",
        default=os.environ.get("KENER2_TOKEN", ""),
        help="its API_TOKEN (default: $KENER2_TOKEN)",
    )
    parser.add_argument("--no-kener2", action="store_true", help="ignore KENER2_URL")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.no_history = 1, 2, 1, True
    if args.list:
        return list_cases()
    if args.case:
        known = {g.name for g in GROUPS} | {c.name for c in all_cases()}
        known |= {c.operation for c in all_cases()} | set(EXTRAS) | {KENER2}
        unknown = [name for name in args.case if name not in known]
        if unknown:
            raise SystemExit(f"unknown --case {', '.join(unknown)}: see --list")
        if KENER2 in args.case and not args.kener2_url:
            raise SystemExit(f"--case '{KENER2}' needs --kener2-url (or KENER2_URL)")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench needs {tool} (Debian: apt-get install wrk util-linux)")
    databases = ["sqlite"]
    if not args.no_postgres:
        if postgres_reachable():
            databases.append("postgresql")
        else:
            print("PostgreSQL not reachable: its figures are skipped", flush=True)
    args.kener2 = kener2(args)
    if args.kener2 is None:
        args.kener2_url = None
    minutes = estimate_seconds(args, databases) / 60
    print(
        f"{args.rounds} round(s) of {args.seconds} s runs, about {minutes:.0f} minutes; "
        f"ratio = req/s / the {BASELINE}'s req/s in the same group's rounds",
        flush=True,
    )
    started = time.monotonic()
    rows = measure(args, "sqlite", lambda server: None)
    if "history" in extras(args):
        rows += measure_history(args, "sqlite", None)
    if "postgresql" in databases:
        schema = f"kener_bench_{os.getpid()}"
        with (
            postgres_schema(f"{schema}_a") as api,
            postgres_schema(f"{schema}_p") as public,
            postgres_schema(f"{schema}_1") as one_day,
        ):
            urls = {"api": api, "public": public, "public-1d": one_day}
            rows += measure(args, "postgresql", urls.get)
        if "scale-out" in extras(args):
            with postgres_schema(schema) as url:
                rows += measure_scale_out(args, url)
        if "history" in extras(args):
            with postgres_schema(schema) as url:
                rows += measure_history(args, "postgresql", url)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print(markdown(rows))
    print()
    startup = next((row["startup_s"] for row in rows if "startup_s" in row), None)
    if startup is not None:
        print(f"startup to first 200: {startup} s")
    print(f"took {(time.monotonic() - started) / 60:.1f} minutes; results in {args.json}")
    wrong = [r for r in rows if r.get("expected_status") is False]
    for r in wrong:
        print(f"wrong case: {r['database']} {r['case']} answered {r['probe_status']}")
    return 1 if wrong else 0


def list_cases() -> int:
    missing = operations_of_contract() - {c.operation for c in all_cases()}
    for group in GROUPS:
        conns = f", {group.connections} connection(s)" if group.connections != 16 else ""
        print(f"{group.name} ({group.dataset} data set{conns}):")
        for case in group.cases:
            notes = [case.operation]
            if case.server not in ("api", "public"):
                notes.append(case.server)
            if case.db_free:
                notes.append("SQLite only")
            print(f"  {case.name:44} {', '.join(notes)}")
    print(f"also: {', '.join(EXTRAS)}")
    if missing:
        print(f"operations of openapi.yaml without a case: {', '.join(sorted(missing))}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
