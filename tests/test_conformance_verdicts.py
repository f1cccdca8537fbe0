"""The conformance suite's verdict as its users read it: the terminal summary, `--json`,
`--badge` and the Markdown report, on this server and on broken variants of it; one verdict
per cause when the target cannot create incidents, and `--without incidents`.

Each case runs `kener-conformance` in a process of its own against a server served here, as an
implementer would run it against theirs."""

import dataclasses
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import storage
from kener_api import create_app
from tests.conftest import TOKEN, serving
from tests.faults import Rewrite

ROOT = Path(__file__).resolve().parents[1]
GITHUB_DOWN = b'{"error": "GitHub unreachable"}'


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'kener.db'}"


@pytest.fixture
def server_settings(settings):
    # The real clock; no response validation (a broken server sends its broken answers); the
    # suite's burst of wrong credentials must not lock its right token out.
    return dataclasses.replace(
        settings, clock=time.time, validate_responses=False, auth_failures_per_minute=10**6
    )


def no_incident_store(scope, status, headers, body):
    """A target whose incident store is down: every incident it would create fails."""
    if scope["method"] == "POST" and scope["path"] == "/api/incident" and status == 200:
        return 500, [(b"content-type", b"application/json")], GITHUB_DOWN
    return status, headers, body


def bare_token_accepted(scope, body):
    """A target that takes the token without the `Bearer ` scheme, as Kener 2.0.0 did."""
    headers = [
        (name, b"Bearer " + value if name == b"authorization" and b" " not in value else value)
        for name, value in scope["headers"]
    ]
    return {**scope, "headers": headers}, body


@dataclasses.dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    verdict: dict
    badge: dict
    report: str

    def outcomes(self, prefix: str = "") -> dict[str, str]:
        return {
            rule["id"]: rule["outcome"]
            for rule in self.verdict["rules"]
            if rule["id"].startswith(prefix)
        }


def judge(url: str, tmp_path: Path, *args: str) -> Run:
    files = {name: tmp_path / name for name in ("verdict.json", "badge.json", "report.md")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "--base-url",
            url,
            f"--token={TOKEN}",
            "--tags",
            "earth,google",
            "--degraded-tag",
            "google",
            "--json",
            str(files["verdict.json"]),
            "--badge",
            str(files["badge.json"]),
            "--report",
            str(files["report.md"]),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    return Run(
        completed.returncode,
        completed.stdout,
        completed.stderr,
        json.loads(files["verdict.json"].read_text()),
        json.loads(files["badge.json"].read_text()),
        files["report.md"].read_text(),
    )


def serve_and_judge(settings, tmp_path, *args, request=None, response=None) -> Run:
    app = create_app(settings)
    if request or response:
        app = Rewrite(app, request, response)
    try:
        with serving(app) as url:
            return judge(url, tmp_path, *args)
    finally:
        storage.close_database()


def test_a_passing_run_reads_in_a_few_lines_and_its_files_agree(server_settings, tmp_path):
    run = serve_and_judge(server_settings, tmp_path, "--only", "auth,errors")
    assert run.status == 0, run.stdout
    verdict = run.verdict
    assert verdict["suite"]["name"] == "kener-conformance"
    assert (
        verdict["spec"]["sha256"]
        == hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest()
    )
    assert verdict["profile"] == "strict" and verdict["target"].startswith("http://127.0.0.1:")
    outcomes = run.outcomes()
    assert outcomes and set(outcomes.values()) == {"passed"}
    assert {rule_id.split("-")[1] for rule_id in outcomes} == {"AUTH", "ERR"}
    judged = len(outcomes)
    assert verdict["score"] == {"passed": judged, "judged": judged}
    assert run.badge == {
        "schemaVersion": 1,
        "label": "strict",
        "message": f"{judged}/{judged}",
        "color": "brightgreen",
    }
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) <= 4, run.stdout
    assert f"{judged}/{judged} rules passed" in lines[0]
    assert "Traceback" not in run.stdout + run.stderr
    assert all(rule_id in run.report for rule_id in outcomes)


def test_without_an_incident_store_each_cause_is_one_verdict(server_settings, tmp_path):
    groups = ("--only", "monitors,auth,errors")
    broken = serve_and_judge(server_settings, tmp_path, *groups, response=no_incident_store)
    assert broken.status == 1
    causes = broken.verdict["blocked"]
    assert len(causes) == 1, causes
    assert causes[0]["cause"].startswith("creating an incident with title, body, tags")
    assert "POST /api/incident answered 500" in causes[0]["cause"]
    blocked = set(causes[0]["rules"])
    assert blocked and {broken.outcomes()[rule_id] for rule_id in blocked} == {"blocked"}
    # The monitors group never needs an incident: it all passes, as on the unbroken server.
    monitors = broken.outcomes("KENER-MON-")
    assert monitors and set(monitors.values()) == {"passed"}
    # What fails is the answer to creating an incident itself, in the rules about it.
    for rule in broken.verdict["rules"]:
        if rule["outcome"] == "failed":
            assert rule["operations"] and "500" in rule["message"], rule
            assert "$TOKEN" in rule["reproduce"] and TOKEN not in rule["reproduce"], rule
    summary = broken.stdout
    assert summary.count("BLOCKED") == 1 and "GitHub unreachable" in summary
    assert len(summary.splitlines()) <= 12, summary
    assert len(broken.report) < 60_000

    # The same target declared without incidents: nothing is blocked, the incident rules are
    # skipped saying why, and the monitors verdict is the same.
    without = serve_and_judge(
        server_settings, tmp_path, *groups, "--without", "incidents", response=no_incident_store
    )
    assert without.status == 0, without.stdout
    assert without.verdict["blocked"] == []
    assert without.outcomes("KENER-MON-") == monitors
    skipped = [rule for rule in without.verdict["rules"] if rule["outcome"] == "skipped"]
    assert skipped and all("--without incidents" in rule["message"] for rule in skipped)
    assert without.verdict["score"]["judged"] < broken.verdict["score"]["judged"]


def test_a_failing_rule_names_its_cause_and_how_to_reproduce_it(server_settings, tmp_path):
    run = serve_and_judge(
        server_settings, tmp_path, "--only", "auth", "-k", "bare_token", request=bare_token_accepted
    )
    assert run.status == 1
    (rule,) = [rule for rule in run.verdict["rules"] if rule["outcome"] == "failed"]
    assert rule["id"] == "KENER-AUTH-003"
    assert "expected 401" in rule["message"] and "got 200" in rule["message"]
    assert rule["reproduce"].startswith("curl ") and "Authorization: $TOKEN" in rule["reproduce"]
    assert TOKEN not in json.dumps(run.verdict) + run.stdout + run.report
    assert f"FAILED {rule['id']}" in run.stdout
    assert run.badge["message"] == "0/1" and run.badge["color"] == "red"
    assert "#### KENER-AUTH-003" in run.report
