"""Soak: `kener-api serve`, started as the README says, under a steady mixed load for
KENER_SOAK_SECONDS (`tox -e stress` runs 600): no answer other than 200, and resident memory
that stops growing once warm. Not part of the default run (the `stress` marker)."""

import itertools
import os
import threading
import time

import httpx
import pytest

from tests.conftest import TOKEN, start_serve_process

SECONDS = int(os.environ.get("KENER_SOAK_SECONDS", "60"))
CLIENTS = 8
# Memory measured after this share of the run is the reference: later growth is a leak.
WARM_UP_SHARE = 0.2


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.stress
def test_soak(database_url, tmp_path):
    process, url = start_serve_process(database_url, tmp_path, tmp_path / "soak.log")
    stop = threading.Event()
    counts = {"requests": 0}
    failures: list[str] = []
    lock = threading.Lock()
    sequence = itertools.count()

    def client_loop():
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            incident = client.post("/api/incident", json={"title": "soak", "tags": ["earth"]})
            number = incident.json()["incidentNumber"]
            while not stop.is_set():
                n = next(sequence)
                match n % 8:
                    case 0 | 1 | 2:
                        answer = client.post(
                            "/api/status", json={"status": "UP", "latency": n % 500, "tag": "earth"}
                        )
                    case 3 | 4:
                        answer = client.get("/api/status", params={"tag": "earth"})
                    case 5:
                        answer = client.post(
                            f"/api/incident/{number}/comment", json={"body": f"c{n}"}
                        )
                    case 6:
                        answer = client.get(
                            "/api/incident", params={"state": "open", "tags": "earth"}
                        )
                    case _:
                        answer = client.get(f"/api/incident/{number}")
                with lock:
                    counts["requests"] += 1
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    samples = []
    try:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while (elapsed := time.monotonic() - started) < SECONDS:
            samples.append((elapsed, rss_mb(process.pid)))
            time.sleep(min(5, SECONDS / 20))
        samples.append((time.monotonic() - started, rss_mb(process.pid)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        process.terminate()
        process.wait(timeout=60)
    warm = next(rss for elapsed, rss in samples if elapsed >= SECONDS * WARM_UP_SHARE)
    peak_after_warm = max(rss for elapsed, rss in samples if elapsed >= SECONDS * WARM_UP_SHARE)
    print(
        f"\nsoak {SECONDS} s on {database_url.split(':')[0]}: {counts['requests']} requests "
        f"({counts['requests'] / SECONDS:.0f}/s), {len(failures)} not 200; RSS "
        f"{samples[0][1]:.1f} MB at start, {warm:.1f} MB warm, {peak_after_warm:.1f} MB peak "
        f"after, {samples[-1][1]:.1f} MB at the end"
    )
    assert failures == []
    assert peak_after_warm <= warm * 1.15 + 5, samples
