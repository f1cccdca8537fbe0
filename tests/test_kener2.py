"""The original Kener 2.0.0, judged by the suite in both profiles; its verdict is kept from
drifting (tests/kener2/verdict-<profile>.json: the outcome of every rule).

Kener's code stays outside this project, and so does any recipe to build it: this test judges
a Kener 2.0.0 already running, named by `KENER2_URL` with `KENER2_TOKEN` (its `API_TOKEN`),
whose monitors are `earth` and `google` (`includeDegradedInDowntime: true`) and whose
incidents live in GitHub issues answered by `tests/kener2/github_standin.py`. The README's
"What Kener 2.0.0 scores" says how it was run and what each failing rule's defect is. Without
`KENER2_URL` the test is skipped, saying so. `KENER2_UPDATE=1` rewrites the kept verdicts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEPT = ROOT / "tests/kener2"
URL = os.environ.get("KENER2_URL")

pytestmark = pytest.mark.skipif(
    not URL,
    reason="no Kener 2.0.0 to judge: set KENER2_URL (and KENER2_TOKEN) to a running one "
    "(README: What Kener 2.0.0 scores)",
)


def judge(tmp_path: Path, *args: str) -> dict:
    path = tmp_path / "verdict.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "--base-url",
            URL,
            f"--token={os.environ.get('KENER2_TOKEN', '')}",
            "--tags",
            "earth,google",
            "--degraded-tag",
            "google",
            "--json",
            str(path),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    return json.loads(path.read_text())


def outcomes(verdict: dict, prefix: str = "") -> dict[str, str]:
    return {
        rule["id"]: rule["outcome"] for rule in verdict["rules"] if rule["id"].startswith(prefix)
    }


@pytest.mark.parametrize("profile", ["kener-2.0", "strict"])
def test_kener_2_0_0_keeps_its_verdict(profile, tmp_path):
    verdict = judge(tmp_path, "--profile", profile)
    assert verdict["totals"]["tests"]["errors"] == 0, verdict["totals"]
    got = outcomes(verdict)
    kept = KEPT / f"verdict-{profile}.json"
    if os.environ.get("KENER2_UPDATE") == "1":
        kept.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(kept.read_text(encoding="utf-8"))
    changed = {
        rule: (expected.get(rule), got.get(rule))
        for rule in sorted(set(expected) | set(got))
        if expected.get(rule) != got.get(rule)
    }
    assert changed == {}, f"Kener 2.0.0's verdict changed (rule: (kept, now)): {changed}"


def test_the_monitors_verdict_does_not_depend_on_incidents(tmp_path):
    full = judge(tmp_path, "--profile", "kener-2.0", "--only", "monitors")
    without = judge(
        tmp_path, "--profile", "kener-2.0", "--only", "monitors", "--without", "incidents"
    )
    assert outcomes(full, "KENER-MON-") == outcomes(without, "KENER-MON-")
