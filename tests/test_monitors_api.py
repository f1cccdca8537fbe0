"""POST and GET /api/status over HTTP: minute flooring, the time window, last write wins,
current status and today's uptime."""

import pytest

import storage
from tests.conftest import START

MINUTE = 60
DAY = 86_400
NOW_MINUTE = START - START % MINUTE
TODAY = START - START % DAY


def push(api, tag="earth", status="UP", latency=10, timestamp=None):
    body = {"tag": tag, "status": status, "latency": latency}
    if timestamp is not None:
        body["timestampInSeconds"] = timestamp
    return api.post("/api/status", json=body)


def status_of(api, tag="earth"):
    answer = api.get("/api/status", params={"tag": tag})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_push_answers_the_floored_minute(api):
    answer = push(api, timestamp=NOW_MINUTE - 3 * MINUTE + 59)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"status": 200, "message": f"success at {NOW_MINUTE - 3 * MINUTE}"}
    assert status_of(api)["lastUpdatedAt"] == NOW_MINUTE - 3 * MINUTE


def test_push_without_timestamp_records_the_current_minute(api):
    assert push(api).json()["message"] == f"success at {NOW_MINUTE}"
    assert status_of(api)["lastUpdatedAt"] == NOW_MINUTE


def test_last_write_for_a_minute_wins(api):
    push(api, status="DOWN", timestamp=NOW_MINUTE + 5)
    push(api, status="DEGRADED", timestamp=NOW_MINUTE + 40)
    state = status_of(api)
    assert state["status"] == "DEGRADED"
    # One data point, not two: uptime is over one point, and DEGRADED counts as up for earth.
    assert state["uptime"] == "100"


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        (START, True),
        (NOW_MINUTE + 59, True),  # still the current minute
        (NOW_MINUTE + 60, False),  # the next minute is in the future
        (NOW_MINUTE - 90 * DAY, True),  # exactly 90 days back
        (NOW_MINUTE - 90 * DAY - 1, False),  # floors to the minute before: too old
    ],
)
def test_time_window(api, timestamp, accepted):
    answer = push(api, timestamp=timestamp)
    if accepted:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400
        message = answer.json()["error"]
        assert str(timestamp) in message
        assert ("in future" in message) or ("older than 90 days" in message)
        assert status_of(api) == {"uptime": "-"}


def test_current_status_is_the_newest_point_not_the_last_pushed(api):
    push(api, status="DOWN", timestamp=NOW_MINUTE)
    push(api, status="UP", timestamp=NOW_MINUTE - 10 * MINUTE)
    state = status_of(api)
    assert state["status"] == "DOWN"
    assert state["lastUpdatedAt"] == NOW_MINUTE


def test_monitor_without_data(api):
    assert status_of(api) == {"uptime": "-"}


def test_uptime_counts_today_only(api):
    # Yesterday's outage does not count against today's uptime.
    for minutes_ago in range(1, 4):
        push(api, status="DOWN", timestamp=TODAY - minutes_ago * MINUTE)
    push(api, status="UP", timestamp=TODAY)
    push(api, status="UP", timestamp=NOW_MINUTE)
    assert status_of(api)["uptime"] == "100"


@pytest.mark.parametrize(
    ("statuses", "earth", "google"),
    [
        # earth counts DEGRADED as up; google (includeDegradedInDowntime) as down.
        (["UP", "DEGRADED"], "100", "50"),
        (["DOWN", "DOWN"], "0", "0"),
        (["UP", "DOWN", "DEGRADED"], "66.6667", "33.3333"),
        (["UP"] * 3 + ["DOWN"] * 7, "30", "30"),
        (["UP"] * 6 + ["DEGRADED"] + ["DOWN"] * 2, "77.7778", "66.6667"),
    ],
)
def test_uptime_value_and_format(api, statuses, earth, google):
    for tag in ("earth", "google"):
        for i, status in enumerate(statuses):
            push(api, tag=tag, status=status, timestamp=NOW_MINUTE - i * MINUTE)
    assert status_of(api, "earth")["uptime"] == earth
    assert status_of(api, "google")["uptime"] == google


def test_uptime_of_a_full_day(api, clock):
    clock.now = TODAY + DAY - 1  # 23:59:59
    # Stored directly: 1,440 pushes over HTTP would only make the test slow.
    for minute in range(1440):
        status = "DOWN" if minute == 0 else "UP"
        storage.record_status("earth", status, 1.0, TODAY + minute * MINUTE)
    assert status_of(api)["uptime"] == "99.9306"  # 1439 / 1440


def test_uptime_counts_only_points_up_to_now(api, clock):
    """Today's counts come from the day's summary, unless the day holds points after now
    (written under a clock ahead of this one): then only those up to now count."""
    push(api, status="UP", timestamp=NOW_MINUTE - MINUTE)
    push(api, status="DOWN", timestamp=NOW_MINUTE)
    assert status_of(api)["uptime"] == "50"
    clock.now = NOW_MINUTE - 1  # the DOWN minute is now in the future
    state = status_of(api)
    assert state["uptime"] == "100"
    assert state["lastUpdatedAt"] == NOW_MINUTE - MINUTE
    clock.now = NOW_MINUTE + 5 * MINUTE
    push(api, status="DEGRADED")
    assert status_of(api)["uptime"] == "66.6667"  # earth counts DEGRADED as up


def test_unknown_tag(api):
    for answer in (push(api, tag="mars"), api.get("/api/status", params={"tag": "mars"})):
        assert answer.status_code == 400
        assert answer.json() == {"error": "unknown tags: mars"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"status": "UP", "latency": "100", "tag": "earth"}, "latency"),
        ({"status": "SIDEWAYS", "latency": 1, "tag": "earth"}, "status"),
        ({"status": "UP", "latency": -1, "tag": "earth"}, "latency"),
        ({"status": "UP", "latency": True, "tag": "earth"}, "latency"),
        ({"status": "UP", "tag": "earth"}, "latency"),
        (
            {"status": "UP", "latency": 1, "tag": "earth", "timestampInSeconds": 1.5},
            "timestampInSeconds",
        ),
        (
            {"status": "UP", "latency": 1, "tag": "earth", "timestampInSeconds": 10**30},
            "timestampInSeconds",
        ),
        ({"status": "UP", "latency": 1, "tag": 7}, "tag"),
        ([1, 2], "object"),
    ],
)
def test_invalid_push_is_rejected_and_stores_nothing(api, body, named):
    answer = api.post("/api/status", json=body)
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert status_of(api) == {"uptime": "-"}


def test_unknown_fields_are_ignored(api):
    answer = api.post(
        "/api/status", json={"status": "UP", "latency": 1, "tag": "earth", "colour": "green"}
    )
    assert answer.status_code == 200
    assert status_of(api)["status"] == "UP"
