"""`openapi.yaml` passes Stoplight Spectral's OpenAPI rules (`spectral:oas`, by `.spectral.yaml`)
with no error: the contract is also the input of tools (generators, mock servers, gateways)
that refuse or misread a document Spectral finds broken, such as an example its schema rejects
or an operationId given twice.

Spectral is a Node program, not a Python dependency: it is `KENER_SPECTRAL` (a path) or
`spectral` on PATH; without it this test is skipped, and the summary says how to install it.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = (
    "npm install --prefix .ci/node @stoplight/spectral-cli@^6, then "
    "KENER_SPECTRAL=.ci/node/node_modules/.bin/spectral (or put `spectral` on PATH)"
)
# KENER_REQUIRE_SPECTRAL=1 (as in .ci/run) turns the skip for want of Spectral into a failure.
REQUIRED = os.environ.get("KENER_REQUIRE_SPECTRAL") == "1"
SEVERITY_ERROR = 0  # Spectral's JSON severities: 0 error, 1 warning, 2 information, 3 hint


def spectral() -> str:
    configured = os.environ.get("KENER_SPECTRAL")
    found = shutil.which(configured) if configured else shutil.which("spectral")
    if found is None:
        where = (
            f"no Spectral at KENER_SPECTRAL={configured}" if configured else "no spectral on PATH"
        )
        message = f"{where}; install it: {INSTALL}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_spectral_finds_no_error():
    command = [
        spectral(),
        "lint",
        "--quiet",
        "--format",
        "json",
        "--ruleset",
        str(ROOT / ".spectral.yaml"),
        str(ROOT / "openapi.yaml"),
    ]
    # Spectral exits 1 when it reports an error; the results are read from its output either way.
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    try:
        results = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"Spectral gave no JSON results (exit {run.returncode}):\n{run.stdout}{run.stderr}"
        )
    errors = [
        f"{result['code']} at {'.'.join(map(str, result['path'])) or '(root)'}: {result['message']}"
        for result in results
        if result["severity"] == SEVERITY_ERROR
    ]
    assert not errors, f"Spectral reports {len(errors)} error(s):\n" + "\n".join(errors)
