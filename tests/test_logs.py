"""The server's log as an operator reads it: text lines by default, one JSON object per line
with KENER_LOG_FORMAT=json (every logger: start-up, access log, errors), and the level
KENER_LOG_LEVEL names (probes appear at DEBUG only)."""

import json
import signal

import httpx
import pytest

from tests.conftest import TOKEN
from tests.test_config import free_port, start_cli, wait_until_serving


def serve_and_stop(tmp_path, env: dict, paths=("/",)) -> list[str]:
    """Start `kener-api serve`, call /healthz, /api/status and `paths`, stop it; its output
    lines."""
    port = free_port()
    process = start_cli(
        "serve", "--port", str(port), "--data-dir", str(tmp_path), env={"API_TOKEN": TOKEN, **env}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        httpx.get(f"{url}/healthz", timeout=10)
        httpx.get(f"{url}/api/status", params={"tag": "earth"}, timeout=10)
        for path in paths:
            httpx.get(f"{url}{path}", timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    return [line for line in output.splitlines() if line.strip()]


def test_json_logs_are_one_object_per_line_from_every_logger(tmp_path):
    lines = serve_and_stop(tmp_path, {"KENER_LOG_FORMAT": "json"})
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    loggers = {record["logger"] for record in records}
    assert {"kener_api", "kener_api.access"} <= loggers, loggers
    assert any("serving on http://127.0.0.1:" in record["message"] for record in records)
    access = [json.loads(r["message"]) for r in records if r["logger"] == "kener_api.access"]
    paths = [entry["path"] for entry in access]
    assert "/api/status" in paths and "/healthz" not in paths  # probes are DEBUG only
    assert TOKEN not in "\n".join(lines)


def test_a_public_answer_is_one_line_of_the_log(tmp_path):
    """Pages, badges and feeds are logged once, by the access log: not also by Connexion,
    saying their HTML, SVG or XML has no schema to validate."""
    public = ("/", "/badge/earth/status", "/rss.xml")
    lines = serve_and_stop(tmp_path, {}, paths=public)
    assert not [line for line in lines if "connexion" in line], lines
    access = [line for line in lines if " INFO kener_api.access: " in line]
    assert [path for path in public if any(f'"path":"{path}"' in line for line in access)] == list(
        public
    )


def test_debug_level_logs_the_probes_too_and_text_is_the_default(tmp_path):
    lines = serve_and_stop(tmp_path, {"KENER_LOG_LEVEL": "debug"})
    assert not lines[0].startswith("{")
    assert any(" DEBUG kener_api.access: " in line and '"/healthz"' in line for line in lines)


@pytest.mark.parametrize(
    ("variable", "value"), [("KENER_LOG_FORMAT", "xml"), ("KENER_LOG_LEVEL", "LOUD")]
)
def test_a_wrong_log_setting_is_one_line_and_exit_2(tmp_path, variable, value):
    process = start_cli("serve", "--data-dir", str(tmp_path), env={variable: value})
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert variable in output and "Traceback" not in output


def test_serve_says_where_the_data_lives_which_monitors_and_whose_token(tmp_path):
    lines = serve_and_stop(tmp_path, {"API_IP_REGEX": r"^127\."})
    text = "\n".join(lines)
    assert f"database: SQLite file {tmp_path.resolve() / 'kener.db'}" in text
    assert "monitors: earth, google (from " in text
    assert "address allow-list: API_IP_REGEX '^127\\\\.'" in text
    assert "API token: from API_TOKEN" in text
    assert TOKEN not in text


def test_a_generated_token_is_shown_on_the_first_start_only(tmp_path):
    first = "\n".join(serve_and_stop(tmp_path, {"API_TOKEN": ""}))
    token = (tmp_path / "api-token").read_text().strip()
    assert token in first and f"API token: generated into {tmp_path / 'api-token'}" in first
    second = "\n".join(serve_and_stop(tmp_path, {"API_TOKEN": ""}))
    assert token not in second
    assert f"API token: from the file {tmp_path / 'api-token'}" in second
