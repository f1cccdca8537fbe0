"""Start-up configuration: settings, the monitors file, the API token, the CLI."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kener_api import Settings, create_app
from kener_api.auth import TOKEN_FILE_NAME, resolve_token
from kener_api.monitors import MonitorsFileError, load_monitors
from kener_api.settings import (
    DEFAULT_MONITORS_FILE,
    POSTGRES_THREADS,
    SQLITE_THREADS,
    SettingsError,
)
from storage import Monitor


def test_settings_defaults_environment_then_overrides(tmp_path):
    environment = {
        "API_TOKEN": "from-env-0123456789",
        "DATABASE_URL": "sqlite:///elsewhere.db",
        "KENER_DATA_DIR": str(tmp_path),
        "KENER_PORT": "9000",
        "KENER_THREADS": "8",
        "KENER_VALIDATE_RESPONSES": "false",
    }
    settings = Settings.load(environment, port=9100, host=None)
    assert settings.api_token == "from-env-0123456789"
    assert settings.database == "sqlite:///elsewhere.db"
    assert settings.data_dir == tmp_path
    assert settings.port == 9100  # the override wins over the environment
    assert settings.host == "127.0.0.1"  # None overrides are ignored
    assert settings.threads == 8
    assert settings.validate_responses is False
    defaults = Settings.load({})
    assert defaults.database == f"sqlite:///{Path('data') / 'kener.db'}"
    assert defaults.validate_responses is True
    assert defaults.monitors_file == DEFAULT_MONITORS_FILE


def test_worker_threads_default_by_database_unless_set(tmp_path):
    sqlite = Settings.load({}, data_dir=tmp_path)
    postgres = Settings.load({"DATABASE_URL": "postgresql://postgres@127.0.0.1/test"})
    assert (sqlite.worker_threads, postgres.worker_threads) == (
        SQLITE_THREADS,
        POSTGRES_THREADS,
    )
    assert SQLITE_THREADS != POSTGRES_THREADS
    assert Settings.load({"KENER_THREADS": "3"}).worker_threads == 3
    assert Settings.load({}, threads=5).worker_threads == 5


@pytest.mark.parametrize(
    ("variable", "value"),
    [("KENER_PORT", "eighty"), ("KENER_THREADS", "0"), ("KENER_VALIDATE_RESPONSES", "maybe")],
)
def test_bad_setting_names_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.load({variable: value})


def test_shipped_monitors_are_earth_and_google():
    monitors = load_monitors(DEFAULT_MONITORS_FILE)
    assert [monitor.tag for monitor in monitors] == ["earth", "google"]


def test_monitors_file_in_kener_format(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "- name: API\n  tag: api\n  description: the API\n  includeDegradedInDowntime: true\n"
        "  image: /api.png\n  cron: '* * * * *'\n  type: API\n"
        "- tag: web\n  hidden: true\n  dayDownMinimumCount: 5\n  dayDegradedMinimumCount: 3\n"
    )
    assert load_monitors(path) == [
        Monitor("api", "API", "the API", True),
        Monitor(
            "web",
            "web",
            "",
            False,
            hidden=True,
            day_down_minimum_count=5,
            day_degraded_minimum_count=3,
        ),
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- tag: [unclosed\n", "not valid YAML"),
        ("", "non-empty list"),
        ("tag: earth\n", "non-empty list"),
        ("- name: No tag\n", "monitor #1 has no tag"),
        ("- tag: ''\n", "has no tag"),
        ("- tag: a\n- tag: b\n- tag: a\n", "monitor #3: duplicate tag 'a'"),
        ("- just a string\n", "must be a mapping"),
        ("- tag: a\n  includeDegradedInDowntime: sometimes\n", "includeDegradedInDowntime"),
        ("- tag: a\n  hidden: 'no'\n", "hidden must be true or false, got 'no'"),
        ("- tag: a\n  dayDownMinimumCount: 0\n", "dayDownMinimumCount must be a whole number"),
        ("- tag: a\n  dayDegradedMinimumCount: 1.5\n", "got 1.5"),
        ("- tag: a\n  dayDownMinimumCount: true\n", "dayDownMinimumCount"),
    ],
)
def test_broken_monitors_file_names_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "monitors.yaml"
    path.write_text(content)
    with pytest.raises(MonitorsFileError) as error:
        load_monitors(path)
    assert str(path) in str(error.value)
    assert problem in str(error.value)


def test_missing_monitors_file(tmp_path):
    with pytest.raises(MonitorsFileError, match="cannot be read"):
        load_monitors(tmp_path / "absent.yaml")


def test_configured_monitors_are_the_known_tags(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text("- tag: api\n")
    app = create_app(Settings(data_dir=tmp_path, api_token="t", monitors_file=path))
    client = app.test_client(headers={"Authorization": "Bearer t"})
    assert client.get("/api/status", params={"tag": "api"}).json() == {"uptime": "-"}
    assert client.get("/api/status", params={"tag": "earth"}).status_code == 400


def test_token_is_generated_once_and_kept_private(tmp_path, caplog):
    settings = Settings(data_dir=tmp_path / "data")
    token = resolve_token(settings)
    path = tmp_path / "data" / TOKEN_FILE_NAME
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token in caplog.text and str(path) in caplog.text
    assert resolve_token(settings) == token  # the next start uses the same token
    assert resolve_token(Settings(data_dir=tmp_path / "data", api_token="mine")) == "mine"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cli(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "kener_api.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_until_serving(url: str, process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_serve_generates_a_token_prints_it_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {"API_TOKEN": ""}
    process = start_cli("serve", "--port", str(port), "--data-dir", str(tmp_path), env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        token = (tmp_path / TOKEN_FILE_NAME).read_text().strip()
        assert httpx.get(f"{url}/api/incident").status_code == 401
        answer = httpx.get(f"{url}/api/incident", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert token in output
    assert str(tmp_path / TOKEN_FILE_NAME) in output
    assert "stopped" in output


def test_serve_takes_the_token_from_the_environment(tmp_path):
    port = free_port()
    process = start_cli(
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path),
        env={"API_TOKEN": "env-token-0123456789"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        answer = httpx.get(
            f"{url}/api/incident", headers={"Authorization": "Bearer env-token-0123456789"}
        )
        assert answer.status_code == 200
        assert not (tmp_path / TOKEN_FILE_NAME).exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_serve_refuses_a_broken_monitors_file(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text("- tag: a\n- tag: a\n")
    process = start_cli("serve", "--monitors", str(path), "--data-dir", str(tmp_path))
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"{path}: monitor #2: duplicate tag 'a'" in output
    assert "Traceback" not in output


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to tell")
@pytest.mark.parametrize(("affinity", "cpus"), [("auto", 1), ("none", None)])
def test_serve_keeps_to_one_cpu_unless_told_not_to(tmp_path, affinity, cpus):
    port = free_port()
    process = start_cli(
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path),
        "--cpu-affinity",
        affinity,
        env={"API_TOKEN": "t" * 16},
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process)
        expected = cpus or len(os.sched_getaffinity(0))
        assert len(os.sched_getaffinity(process.pid)) == expected
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
