"""Every failure of `serve`, `keys` and `backup` is one line naming the cause and what to
do, exit status 2, no traceback; `keys` never creates a database."""

import os
import socket
import subprocess
import sys

import pytest

import storage
from tests.conftest import TOKEN


def run(*args, env=None, cwd=None):
    completed = subprocess.run(
        [sys.executable, "-m", "kener_api.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "API_TOKEN": TOKEN, "DATABASE_URL": "", **(env or {})},
        cwd=cwd,
    )
    errors = [line for line in completed.stderr.splitlines() if line.startswith("kener-api:")]
    assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
    return completed.returncode, errors


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, errors = run("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert status == 2
    assert errors == [
        f"kener-api: error: cannot listen on 127.0.0.1:{port}: the address is in use (another "
        "process listens there: stop it, or choose another port with --port or KENER_PORT)"
    ]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://kener:secret@127.0.0.1:1/test", "Connection refused"),
        ("postgresql://postgres@127.0.0.1:5432/no_such_database_here", "does not exist"),
    ],
)
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["keys", "list"]])
def test_a_database_that_cannot_be_opened_is_one_line(url, said, command):
    if "5432" in url:
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        except OSError:
            pytest.skip("no PostgreSQL on 127.0.0.1:5432 to refuse the database")
    status, errors = run(*command, env={"DATABASE_URL": url})
    assert status == 2
    (error,) = errors
    masked = url.replace(":secret@", ":***@")
    assert error.startswith(f"kener-api: error: cannot open the database {masked}: ")
    assert said in error and "check DATABASE_URL" in error and "secret" not in error


def test_keys_never_create_a_database(tmp_path):
    for action in (["list"], ["create", "ci", "--scope", "push"], ["revoke", "ci"]):
        status, errors = run("keys", *action, cwd=tmp_path)
        assert status == 2
        assert errors == [
            "kener-api: error: no database at data/kener.db: run this where the server keeps "
            "its data, or give --data-dir or DATABASE_URL"
        ]
    assert list(tmp_path.iterdir()) == []


def test_a_backup_into_a_missing_folder_is_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    storage.open_database(f"sqlite:///{data / 'kener.db'}")  # as the server's first start
    storage.close_database()
    target = tmp_path / "missing" / "copy.db"
    status, errors = run("backup", str(target), "--data-dir", str(data))
    assert status == 2
    assert errors == [
        f"kener-api: error: cannot write {target}: the folder {target.parent} does not exist"
    ]
