"""SIGTERM: the server stops accepting, finishes the requests it has received, answers them,
and exits 0."""

import signal
import sqlite3
import threading
import time

import httpx
import pytest

from tests.test_config import free_port, start_cli, wait_until_serving

TOKEN = "shutdown-token-0123456789"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_request_in_flight_is_answered_after_sigterm(tmp_path, stop_signal):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_cli(
        "serve", "--port", str(port), "--data-dir", str(tmp_path), env={"API_TOKEN": TOKEN}
    )
    answers = []
    try:
        wait_until_serving(url, process)
        # Another writer holds SQLite's write lock: the push below waits for it, in flight.
        blocker = sqlite3.connect(tmp_path / "kener.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")

        def push():
            answers.append(
                httpx.post(
                    f"{url}/api/status",
                    json={"status": "DOWN", "latency": 7, "tag": "earth"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=30,
                )
            )

        client = threading.Thread(target=push)
        client.start()
        time.sleep(1)  # the push has reached the server and waits on the lock
        process.send_signal(stop_signal)
        time.sleep(1)
        # No longer accepting...
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/api/status?tag=earth", timeout=2)
        # ...but still at work on the push, which completes once the lock is released.
        assert process.poll() is None and answers == []
        blocker.execute("ROLLBACK")
        blocker.close()
        client.join(timeout=30)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert answers and answers[0].status_code == 200, answers
    assert "finishing the requests in flight" in output and "stopped" in output
    with sqlite3.connect(tmp_path / "kener.db") as db:
        assert db.execute("SELECT status, latency FROM data_point").fetchall() == [("DOWN", 7.0)]
