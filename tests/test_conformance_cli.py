"""`kener-conformance` as a user meets it: usage errors, an unreachable target, a wrong token
and an unknown tag exit 2 with one line and no traceback, before any test runs."""

import socket
import subprocess
import sys

from tests.conftest import TOKEN


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True, timeout=60
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_unreachable_target_exits_2_with_a_message():
    url = f"http://127.0.0.1:{closed_port()}"
    result = run("--base-url", url, "--token", "t")
    assert result.returncode == 2
    assert f"cannot reach {url}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_usage_errors_exit_2():
    for args in (
        ["--token", "t"],
        ["--base-url", "http://127.0.0.1:1", "--token", "t", "--only", "everything"],
        ["--base-url", "http://127.0.0.1:1", "--token", "t", "--profile", "lenient"],
        ["--base-url", "http://127.0.0.1:1", "--token", "t", "--degraded-tag", "mars"],
    ):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def test_a_token_starting_with_a_dash_is_taken_in_the_equals_form():
    result = run(f"--base-url=http://127.0.0.1:{closed_port()}", "--token=-starts-with-dash")
    assert result.returncode == 2
    assert "cannot reach" in result.stderr  # parsed: it got as far as trying the target


def test_a_wrong_token_is_one_line_before_any_test(live_server):
    result = run("--base-url", live_server.url, "--token", "not-the-token-at-all")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{live_server.url} refuses the --token given (401 on GET" in lines[0]
    assert result.stdout == ""  # no test ran


def test_an_unknown_tag_is_one_line_before_any_test(live_server):
    result = run("--base-url", live_server.url, "--token", TOKEN, "--tags", "earth,mars")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert (
        "does not know the monitor tag 'mars' given in --tags (400: unknown tags: mars)"
        in (lines[0])
    )
    assert result.stdout == ""
