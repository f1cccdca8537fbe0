"""The storage layer called directly (no HTTP), on SQLite and on PostgreSQL.

Every test takes the `store` fixture, which opens the database named by `database_url` (both
back ends) and configures the catalog with the monitors below and the hand-moved clock.
Expected values are computed from the inputs (or from an independent Decimal oracle for
uptimes), never read back from the function under test.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from peewee import TextField
from playhouse.migrate import migrate

import storage
import storage.database
from storage import (
    IncidentContent,
    IncidentFilters,
    IncidentNotFound,
    InvalidValue,
    Monitor,
    UnknownTags,
)
from storage.models import (
    TABLES,
    ApiKey,
    Comment,
    DataPoint,
    DaySummary,
    HistoryVersion,
    Incident,
    SchemaVersion,
    database,
)

MINUTE = 60
DAY = 86_400
HISTORY = 90 * DAY

EARTH = Monitor(tag="earth", name="Earth")
GOOGLE = Monitor(tag="google", name="Google")
# Counts DEGRADED as down.
MOON = Monitor(tag="moon", name="Moon", include_degraded_in_downtime=True)
MONITORS = [EARTH, GOOGLE, MOON]


@pytest.fixture
def store(database_url, clock):
    storage.open_database(database_url)
    storage.catalog.configure(MONITORS, clock)
    yield database_url
    storage.close_database()


# ----------------------------------------------------------------------------- helpers


def floor_minute(seconds: int) -> int:
    return seconds - seconds % MINUTE


def now_of(clock) -> int:
    return int(clock.now)


def expected_uptime(up: int, total: int) -> str:
    """An oracle for Kener's ParseUptime, written independently of storage.format_uptime:
    decimal arithmetic, rounding half up."""
    if total == 0:
        return "-"
    if up == 0:
        return "0"
    with localcontext() as ctx:
        ctx.prec = 60
        percent = Decimal(100 * up) / Decimal(total)
        if percent == percent.to_integral_value() and int(percent) % 10 == 0:
            return str(int(percent))
        return str(percent.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def data_points(tag=None):
    with database.connection_context():
        query = DataPoint.select().order_by(DataPoint.tag, DataPoint.minute)
        if tag is not None:
            query = query.where(DataPoint.tag == tag)
        return [(p.tag, p.minute, p.status, p.latency) for p in query]


def incident_count() -> int:
    with database.connection_context():
        return Incident.select().count()


def content(title="Outage", tags=("earth",), **fields) -> IncidentContent:
    return IncidentContent(title=title, tags=list(tags), **fields)


def snapshot(incident) -> dict:
    """Every client-visible field of an incident."""
    return {
        "number": incident.number,
        "title": incident.title,
        "body": incident.body,
        "impact": incident.impact,
        "start_datetime": incident.start_datetime,
        "end_datetime": incident.end_datetime,
        "is_maintenance": bool(incident.is_maintenance),
        "is_identified": bool(incident.is_identified),
        "is_resolved": bool(incident.is_resolved),
        "created_at": incident.created_at,
        "closed_at": incident.closed_at,
        "tags": list(incident.tags),
    }


def search(**filters) -> list[int]:
    return [incident.number for incident in storage.search_incidents(IncidentFilters(**filters))]


def run_concurrently(workers: int, job) -> list:
    """Run job(worker_index) on `workers` threads released at the same moment; re-raise the
    first exception any of them raised, answer their results in worker order."""
    barrier = threading.Barrier(workers)

    def start(index):
        barrier.wait(timeout=30)
        return job(index)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(start, index) for index in range(workers)]
        return [future.result(timeout=120) for future in futures]


# ----------------------------------------------------------------------------- record_status


def test_record_status_floors_to_the_minute_and_answers_it(store, clock):
    now = now_of(clock)
    timestamp = now - 3 * MINUTE + 17
    minute = storage.record_status("earth", "UP", 12.5, timestamp)
    assert minute == floor_minute(timestamp)
    assert minute % MINUTE == 0 and minute != timestamp
    assert data_points() == [("earth", floor_minute(timestamp), "UP", 12.5)]


def test_record_status_defaults_to_the_current_minute(store, clock):
    minute = storage.record_status("earth", "DOWN", 0, None)
    assert minute == floor_minute(now_of(clock))
    assert data_points() == [("earth", floor_minute(now_of(clock)), "DOWN", 0)]


def test_record_status_last_write_wins_per_tag_and_minute(store, clock):
    minute = floor_minute(now_of(clock)) - 10 * MINUTE
    assert storage.record_status("earth", "UP", 10, minute + 5) == minute
    assert storage.record_status("earth", "DOWN", 20, minute + 50) == minute
    # Another tag in the same minute and the same tag in another minute are separate points.
    storage.record_status("google", "DEGRADED", 30, minute)
    storage.record_status("earth", "UP", 40, minute + MINUTE)
    assert data_points() == [
        ("earth", minute, "DOWN", 20),
        ("earth", minute + MINUTE, "UP", 40),
        ("google", minute, "DEGRADED", 30),
    ]
    assert storage.current_state("earth").status == "UP"
    storage.record_status("earth", "DEGRADED", 50, minute + MINUTE + 1)
    assert data_points("earth")[-1] == ("earth", minute + MINUTE, "DEGRADED", 50)


def test_record_status_time_window(store, clock):
    now = now_of(clock)
    now_minute = floor_minute(now)
    assert now != now_minute, "the clock must sit inside a minute for this test"

    # The current minute, also a timestamp after now but still inside it, is accepted.
    assert storage.record_status("earth", "UP", 1, now) == now_minute
    assert storage.record_status("earth", "UP", 2, now_minute + MINUTE - 1) == now_minute
    # The next minute is in the future.
    for future in (now_minute + MINUTE, now + MINUTE, now + DAY):
        with pytest.raises(InvalidValue, match="future"):
            storage.record_status("earth", "UP", 3, future)
    # Exactly 90 days before the current minute is accepted, a second earlier is not.
    oldest = now_minute - HISTORY
    assert storage.record_status("earth", "DOWN", 4, oldest) == oldest
    assert storage.record_status("earth", "DOWN", 5, now - HISTORY) == oldest
    for too_old in (oldest - 1, oldest - MINUTE, now - HISTORY - DAY):
        with pytest.raises(InvalidValue, match="90 days"):
            storage.record_status("earth", "DOWN", 6, too_old)

    assert data_points() == [("earth", oldest, "DOWN", 5), ("earth", now_minute, "UP", 2)]


def test_record_status_window_moves_with_the_clock(store, clock):
    minute = floor_minute(now_of(clock)) + 5 * MINUTE
    with pytest.raises(InvalidValue):
        storage.record_status("earth", "UP", 1, minute)
    clock.advance(5 * MINUTE)
    assert storage.record_status("earth", "UP", 1, minute) == minute
    old = floor_minute(now_of(clock)) - HISTORY
    assert storage.record_status("earth", "UP", 1, old) == old
    clock.advance(MINUTE)
    with pytest.raises(InvalidValue):
        storage.record_status("earth", "UP", 1, old)


def test_record_status_unknown_tag(store, clock):
    with pytest.raises(UnknownTags) as caught:
        storage.record_status("mars", "UP", 1, None)
    assert caught.value.tags == ["mars"]
    assert "mars" in str(caught.value)
    assert data_points() == []


# ----------------------------------------------------------------------------- current_state


def test_current_state_without_data(store, clock):
    state = storage.current_state("earth")
    assert state.status is None
    assert state.last_updated_at is None
    assert state.uptime == "-"


def test_current_state_unknown_tag(store):
    with pytest.raises(UnknownTags):
        storage.current_state("mars")


def test_current_state_newest_point_at_or_before_now(store, clock):
    now = now_of(clock)
    base = floor_minute(now)
    storage.record_status("earth", "DOWN", 1, base - 5 * MINUTE)
    storage.record_status("earth", "DEGRADED", 1, base - 2 * MINUTE)
    storage.record_status("earth", "UP", 1, base - 9 * MINUTE)  # older, written later
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == ("DEGRADED", base - 2 * MINUTE)

    # A point in the future (written while the clock was ahead) is not "current".
    clock.advance(10 * MINUTE)
    future = storage.record_status("earth", "UP", 1, None)
    clock.now = now
    assert future > now
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == ("DEGRADED", base - 2 * MINUTE)

    # Once the clock reaches it, it is.
    clock.now = future
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == ("UP", future)


def test_current_state_other_tags_do_not_count(store, clock):
    minute = floor_minute(now_of(clock))
    storage.record_status("google", "DOWN", 1, minute)
    storage.record_status("earth", "UP", 1, minute - MINUTE)
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == ("UP", minute - MINUTE)
    assert state.uptime == expected_uptime(1, 1)


def test_current_state_uptime_counts_today_up_to_now(store, clock):
    now = now_of(clock)
    day_start = now - now % DAY
    now_minute = floor_minute(now)
    assert now_minute - day_start > 10 * MINUTE

    # Yesterday: many DOWN points that would change the uptime if they were counted.
    for i in range(1, 8):
        storage.record_status("earth", "DOWN", 1, day_start - i * MINUTE)
    # Today, from 00:00 UTC (inclusive) to the current minute (inclusive).
    today = [
        (day_start, "UP"),
        (day_start + MINUTE, "DEGRADED"),
        (day_start + 2 * MINUTE, "DOWN"),
        (day_start + 5 * MINUTE, "UP"),
        (now_minute - MINUTE, "DEGRADED"),
        (now_minute, "UP"),
    ]
    for minute, status in today:
        storage.record_status("earth", status, 1, minute)
    # Points after now: written with the clock moved ahead, then the clock moved back.
    clock.advance(5 * MINUTE)
    for i in range(1, 5):
        storage.record_status("earth", "DOWN", 1, now_minute + i * MINUTE)
    clock.now = now

    statuses = [status for _, status in today]
    up = statuses.count("UP") + statuses.count("DEGRADED")
    state = storage.current_state("earth")
    assert state.uptime == expected_uptime(up, len(today))
    assert (state.status, state.last_updated_at) == ("UP", now_minute)


def test_current_state_yesterday_only(store, clock):
    now = now_of(clock)
    day_start = now - now % DAY
    storage.record_status("earth", "DOWN", 1, day_start - MINUTE)
    state = storage.current_state("earth")
    # The newest point is yesterday's; today has none, so there is no uptime.
    assert (state.status, state.last_updated_at) == ("DOWN", day_start - MINUTE)
    assert state.uptime == "-"


def test_current_state_future_points_only(store, clock):
    now = now_of(clock)
    clock.advance(3 * MINUTE)
    storage.record_status("earth", "UP", 1, None)
    clock.now = now
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at, state.uptime) == (None, None, "-")


def test_current_state_uptime_at_midnight(store, clock):
    """Just after 00:00 UTC only the point of the first minute counts."""
    now = now_of(clock)
    day_start = now - now % DAY
    storage.record_status("earth", "DOWN", 1, day_start - MINUTE)
    storage.record_status("earth", "UP", 1, day_start - 2 * MINUTE)
    clock.now = day_start + 30
    storage.record_status("earth", "DEGRADED", 1, None)
    state = storage.current_state("earth")
    assert state.uptime == expected_uptime(1, 1)
    clock.now = day_start - 1  # the day before: the same points from that day's view
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == ("DOWN", day_start - MINUTE)
    assert state.uptime == expected_uptime(1, 2)


@pytest.mark.parametrize("monitor", [EARTH, MOON], ids=lambda m: m.tag)
def test_current_state_include_degraded_in_downtime(store, clock, monitor):
    now_minute = floor_minute(now_of(clock))
    statuses = ["UP", "DEGRADED", "DOWN", "UP", "DEGRADED", "UP"]
    for i, status in enumerate(statuses):
        storage.record_status(monitor.tag, status, 1, now_minute - i * MINUTE)
    up = statuses.count("UP")
    if not monitor.include_degraded_in_downtime:
        up += statuses.count("DEGRADED")
    state = storage.current_state(monitor.tag)
    assert state.uptime == expected_uptime(up, len(statuses))
    # The two settings really give different answers for these points.
    assert expected_uptime(statuses.count("UP"), len(statuses)) != expected_uptime(
        statuses.count("UP") + statuses.count("DEGRADED"), len(statuses)
    )


# ----------------------------------------------------------------------------- format_uptime


@pytest.mark.parametrize(
    "up, total, text",
    [
        (0, 0, "-"),
        (0, 1, "0"),
        (0, 1440, "0"),
        (1, 1, "100"),
        (1440, 1440, "100"),
        (1, 2, "50"),
        (720, 1440, "50"),
        (3, 10, "30"),
        (7, 10, "70"),
        (1, 10, "10"),
        (9, 10, "90"),
        (1, 4, "25.0000"),  # whole, but not a multiple of 10
        (3, 4, "75.0000"),
        (1439, 1440, "99.9306"),
        (1, 3, "33.3333"),
        (2, 3, "66.6667"),
        (1, 128, "0.7813"),  # 0.78125: half up, not half even
        (5, 128, "3.9063"),  # 3.90625
        (1, 1000, "0.1000"),
        (1, 10_000_000, "0.0000"),
        (99_999, 100_000, "99.9990"),
        (999_999, 1_000_000, "99.9999"),
        (1_999_999, 2_000_000, "100.0000"),  # 99.99995 rounds half up; still not "100"
    ],
)
def test_format_uptime_cases(up, total, text):
    assert storage.format_uptime(up, total) == text
    assert expected_uptime(up, total) == text  # the oracle agrees with the table


def test_format_uptime_matches_oracle_exhaustively():
    for total in range(0, 200):
        for up in range(0, total + 1):
            assert storage.format_uptime(up, total) == expected_uptime(up, total), (up, total)
    for total in (1439, 1440, 4320, 99_999, 100_000, 1_000_003):
        for up in (1, 2, total // 3, total // 2, total - 2, total - 1, total):
            assert storage.format_uptime(up, total) == expected_uptime(up, total), (up, total)


# ----------------------------------------------------------------------------- incidents


def test_incident_numbers_in_creation_order(store, clock):
    numbers = []
    for i in range(3):
        numbers.append(storage.create_incident(content(title=f"Incident {i}")).number)
        clock.advance(1)
    assert numbers == [1, 2, 3]
    assert [storage.get_incident(n).title for n in numbers] == [f"Incident {i}" for i in range(3)]


def test_create_incident_stores_every_field(store, clock):
    start = now_of(clock) - 3600
    given = content(
        title="Database ÉCLAIR",
        tags=["google", "earth"],
        body="Details",
        impact="DEGRADED",
        start_datetime=start,
        end_datetime=start + 60,
        is_maintenance=True,
        is_identified=True,
    )
    created = storage.create_incident(given)
    expected = {
        "number": 1,
        "title": given.title,
        "body": given.body,
        "impact": given.impact,
        "start_datetime": given.start_datetime,
        "end_datetime": given.end_datetime,
        "is_maintenance": True,
        "is_identified": True,
        "is_resolved": False,
        "created_at": now_of(clock),
        "closed_at": None,
        "tags": given.tags,
    }
    assert snapshot(created) == expected
    clock.advance(100)
    assert snapshot(storage.get_incident(created.number)) == expected


def test_create_incident_defaults(store, clock):
    created = storage.create_incident(IncidentContent(title="t", tags=["earth"]))
    assert snapshot(storage.get_incident(created.number)) == {
        "number": created.number,
        "title": "t",
        "body": "",
        "impact": None,
        "start_datetime": None,
        "end_datetime": None,
        "is_maintenance": False,
        "is_identified": False,
        "is_resolved": False,
        "created_at": now_of(clock),
        "closed_at": None,
        "tags": ["earth"],
    }


def test_create_resolved_incident_is_closed_at_creation(store, clock):
    created = storage.create_incident(content(is_resolved=True))
    assert created.closed_at == created.created_at == now_of(clock)
    assert storage.get_incident(created.number).closed_at == now_of(clock)


def test_incident_numbers_never_reused(store, clock):
    for _ in range(3):
        storage.create_incident(content())
    newest = storage.create_incident(content(title="newest"))
    storage.add_comment(newest.number, "comment")
    with database.connection_context():
        assert Incident.delete().where(Incident.number == newest.number).execute() == 1
        # The comment went with it (ON DELETE CASCADE, foreign keys enforced).
        assert Comment.select().count() == 0
    assert incident_count() == 3
    again = storage.create_incident(content(title="after delete"))
    assert again.number == newest.number + 1
    with pytest.raises(IncidentNotFound):
        storage.get_incident(newest.number)


def test_comment_ids_never_reused(store, clock):
    incident = storage.create_incident(content())
    ids = [storage.add_comment(incident.number, f"c{i}").id for i in range(3)]
    with database.connection_context():
        assert Comment.delete().where(Comment.id == ids[-1]).execute() == 1
    new_id = storage.add_comment(incident.number, "after delete").id
    assert new_id not in ids
    assert new_id > max(ids)


def test_incident_tags_collapse_keeping_first_order(store):
    given = ["google", "earth", "google", "moon", "earth", "moon"]
    expected = list(dict.fromkeys(given))
    created = storage.create_incident(content(tags=given))
    assert created.tags == expected
    assert storage.get_incident(created.number).tags == expected
    # The order given is kept, whatever it is.
    other = storage.create_incident(content(tags=["moon", "earth"]))
    assert storage.get_incident(other.number).tags == ["moon", "earth"]
    replaced = storage.replace_incident(created.number, content(tags=["earth", "earth", "google"]))
    assert replaced.tags == ["earth", "google"]
    assert storage.get_incident(created.number).tags == ["earth", "google"]


def test_incident_unknown_tags_rejected(store):
    with pytest.raises(UnknownTags) as caught:
        storage.create_incident(content(tags=["earth", "mars", "venus"]))
    assert caught.value.tags == ["mars", "venus"]
    assert "mars" in str(caught.value) and "venus" in str(caught.value)
    assert incident_count() == 0

    incident = storage.create_incident(content(title="kept", tags=["earth"]))
    before = snapshot(storage.get_incident(incident.number))
    with pytest.raises(UnknownTags):
        storage.replace_incident(incident.number, content(title="changed", tags=["mars"]))
    assert snapshot(storage.get_incident(incident.number)) == before


@pytest.mark.parametrize("delta", [0, -1, -3600])
def test_incident_end_not_after_start_rejected(store, clock, delta):
    start = now_of(clock)
    with pytest.raises(InvalidValue, match="endDatetime"):
        storage.create_incident(content(start_datetime=start, end_datetime=start + delta))
    assert incident_count() == 0

    incident = storage.create_incident(content(start_datetime=start, end_datetime=start + 1))
    before = snapshot(storage.get_incident(incident.number))
    with pytest.raises(InvalidValue):
        storage.replace_incident(
            incident.number, content(title="x", start_datetime=start, end_datetime=start + delta)
        )
    with pytest.raises(InvalidValue):
        storage.update_incident_status(incident.number, end_datetime=start + delta)
    # A rejected change changes nothing, also not the fields given beside the bad one.
    with pytest.raises(InvalidValue):
        storage.update_incident_status(
            incident.number, is_resolved=True, is_identified=True, end_datetime=start + delta
        )
    assert snapshot(storage.get_incident(incident.number)) == before


def test_incident_end_or_start_alone_accepted(store, clock):
    now = now_of(clock)
    only_end = storage.create_incident(content(end_datetime=now - 10))
    only_start = storage.create_incident(content(start_datetime=now + 10))
    assert storage.get_incident(only_end.number).end_datetime == now - 10
    assert storage.get_incident(only_start.number).start_datetime == now + 10
    assert storage.get_incident(only_start.number).end_datetime is None


def test_replace_incident_is_a_full_replacement(store, clock):
    start = now_of(clock) - 600
    original = storage.create_incident(
        content(
            title="Original",
            tags=["earth", "google"],
            body="body",
            impact="DOWN",
            start_datetime=start,
            end_datetime=start + 300,
            is_maintenance=True,
            is_identified=True,
        )
    )
    created_at = original.created_at
    comment = storage.add_comment(original.number, "still here")
    clock.advance(120)

    replaced = storage.replace_incident(
        original.number, IncidentContent(title="New", tags=["moon"])
    )
    expected = {
        "number": original.number,
        "title": "New",
        "body": "",
        "impact": None,
        "start_datetime": None,
        "end_datetime": None,
        "is_maintenance": False,
        "is_identified": False,
        "is_resolved": False,
        "created_at": created_at,
        "closed_at": None,
        "tags": ["moon"],
    }
    assert snapshot(replaced) == expected
    assert snapshot(storage.get_incident(original.number)) == expected
    assert [(c.id, c.body) for c in storage.list_comments(original.number)] == [
        (comment.id, "still here")
    ]
    # A later incident still gets the next number.
    assert storage.create_incident(content()).number == original.number + 1

    # And a replacement can set every field.
    full = content(
        title="Full",
        tags=["google"],
        body="b2",
        impact="DEGRADED",
        start_datetime=start + 1,
        end_datetime=start + 2,
        is_maintenance=True,
        is_identified=True,
    )
    again = storage.replace_incident(original.number, full)
    assert snapshot(storage.get_incident(original.number)) == snapshot(again)
    assert snapshot(again) == {
        **expected,
        "title": "Full",
        "tags": ["google"],
        "body": "b2",
        "impact": "DEGRADED",
        "start_datetime": start + 1,
        "end_datetime": start + 2,
        "is_maintenance": True,
        "is_identified": True,
    }


def test_closed_at_follows_resolution(store, clock):
    incident = storage.create_incident(content())
    number = incident.number
    assert incident.closed_at is None

    clock.advance(10)
    resolved_at = now_of(clock)
    assert storage.replace_incident(number, content(is_resolved=True)).closed_at == resolved_at
    assert storage.get_incident(number).closed_at == resolved_at

    # Already resolved: the time it became resolved is kept, by replace and by status update.
    clock.advance(10)
    assert storage.replace_incident(number, content(is_resolved=True)).closed_at == resolved_at
    clock.advance(10)
    assert storage.update_incident_status(number, is_resolved=True).closed_at == resolved_at
    clock.advance(10)
    assert storage.update_incident_status(number, is_identified=True).closed_at == resolved_at
    assert storage.get_incident(number).closed_at == resolved_at

    # Unresolved: cleared.
    clock.advance(10)
    assert storage.update_incident_status(number, is_resolved=False).closed_at is None
    assert storage.get_incident(number).closed_at is None
    clock.advance(10)
    assert storage.update_incident_status(number, is_resolved=False).closed_at is None

    # Resolved again: the new time.
    clock.advance(10)
    again_at = now_of(clock)
    assert again_at != resolved_at
    assert storage.update_incident_status(number, is_resolved=True).closed_at == again_at
    assert storage.get_incident(number).closed_at == again_at

    # Unresolved by a replacement that leaves isResolved out.
    clock.advance(10)
    assert storage.replace_incident(number, content()).closed_at is None
    assert storage.get_incident(number).is_resolved is False
    assert storage.get_incident(number).closed_at is None


def test_update_incident_status_changes_only_given_fields(store, clock):
    start = now_of(clock) - 1000
    incident = storage.create_incident(
        content(
            title="T",
            tags=["google", "earth"],
            body="B",
            impact="DOWN",
            start_datetime=start,
            end_datetime=start + 10,
            is_maintenance=True,
        )
    )
    before = snapshot(storage.get_incident(incident.number))
    clock.advance(50)

    answer = storage.update_incident_status(incident.number)
    assert snapshot(answer) == before
    assert snapshot(storage.get_incident(incident.number)) == before

    answer = storage.update_incident_status(incident.number, is_identified=True)
    step1 = {**before, "is_identified": True}
    assert snapshot(answer) == step1
    assert snapshot(storage.get_incident(incident.number)) == step1

    answer = storage.update_incident_status(incident.number, end_datetime=start + 500)
    step2 = {**step1, "end_datetime": start + 500}
    assert snapshot(answer) == step2
    assert snapshot(storage.get_incident(incident.number)) == step2

    answer = storage.update_incident_status(incident.number, is_resolved=True)
    step3 = {**step2, "is_resolved": True, "closed_at": now_of(clock)}
    assert snapshot(answer) == step3
    assert snapshot(storage.get_incident(incident.number)) == step3

    answer = storage.update_incident_status(incident.number, is_identified=False)
    step4 = {**step3, "is_identified": False}
    assert snapshot(answer) == step4
    assert snapshot(storage.get_incident(incident.number)) == step4


def test_update_status_end_datetime_without_start(store, clock):
    incident = storage.create_incident(content())
    end = now_of(clock) - 5000  # no start to compare with: any end is accepted
    assert storage.update_incident_status(incident.number, end_datetime=end).end_datetime == end
    assert storage.get_incident(incident.number).end_datetime == end


@pytest.mark.parametrize("number", [0, -1, 2, 99, 2**31 - 1])
def test_unknown_incident(store, number):
    storage.create_incident(content())  # number 1 exists
    with pytest.raises(IncidentNotFound) as caught:
        storage.get_incident(number)
    assert caught.value.number == number
    assert f"incident {number} not found" == str(caught.value)
    with pytest.raises(IncidentNotFound):
        storage.replace_incident(number, content())
    with pytest.raises(IncidentNotFound):
        storage.update_incident_status(number, is_resolved=True)
    with pytest.raises(IncidentNotFound):
        storage.update_incident_status(number)
    with pytest.raises(IncidentNotFound):
        storage.add_comment(number, "body")
    with pytest.raises(IncidentNotFound):
        storage.list_comments(number)
    # Nothing was created by the failed calls.
    assert incident_count() == 1
    with database.connection_context():
        assert Comment.select().count() == 0


# ----------------------------------------------------------------------------- comments


def test_comments_oldest_first_ids_unique_across_incidents(store, clock):
    first = storage.create_incident(content(title="first"))
    second = storage.create_incident(content(title="second"))
    written = {first.number: [], second.number: []}
    for i in range(6):
        number = (first.number, second.number)[i % 2]
        comment = storage.add_comment(number, f"comment {i}")
        assert comment.created_at == now_of(clock)
        assert comment.body == f"comment {i}"
        written[number].append((comment.id, f"comment {i}", now_of(clock)))
        clock.advance(7)
    all_ids = [c[0] for comments in written.values() for c in comments]
    assert len(set(all_ids)) == len(all_ids)
    for number, comments in written.items():
        listed = [(c.id, c.body, c.created_at) for c in storage.list_comments(number)]
        assert listed == comments  # oldest first
    third = storage.create_incident(content(title="third"))
    assert storage.list_comments(third.number) == []


def test_comments_same_second_keep_insertion_order(store, clock):
    incident = storage.create_incident(content())
    bodies = [f"b{i}" for i in range(5)]
    for body in bodies:
        storage.add_comment(incident.number, body)
    assert [c.body for c in storage.list_comments(incident.number)] == bodies


# ----------------------------------------------------------------------------- search


def test_search_by_state(store, clock):
    open_one = storage.create_incident(content(title="open"))
    clock.advance(1)
    closed_one = storage.create_incident(content(title="closed", is_resolved=True))
    clock.advance(1)
    reopened = storage.create_incident(content(title="reopened", is_resolved=True))
    storage.update_incident_status(reopened.number, is_resolved=False)
    clock.advance(1)
    closed_later = storage.create_incident(content(title="closed later"))
    storage.update_incident_status(closed_later.number, is_resolved=True)

    assert search() == [reopened.number, open_one.number]  # "open" is the default
    assert search(state="open") == [reopened.number, open_one.number]
    assert search(state="closed") == [closed_later.number, closed_one.number]


def test_search_by_tags_any(store, clock):
    made = {}
    for name, tags in [
        ("earth", ["earth"]),
        ("google", ["google"]),
        ("both", ["google", "earth"]),
        ("moon", ["moon"]),
    ]:
        made[name] = storage.create_incident(content(title=name, tags=tags)).number
        clock.advance(1)

    def expect(*names):
        return sorted((made[n] for n in names), reverse=True)

    assert search(tags=["earth"]) == expect("earth", "both")
    assert search(tags=["google"]) == expect("google", "both")
    # ANY of the tags; an incident with several of them appears once.
    assert search(tags=["earth", "google"]) == expect("earth", "google", "both")
    assert search(tags=["earth", "moon"]) == expect("earth", "both", "moon")
    assert search(tags=["moon", "earth", "google"]) == expect("earth", "google", "both", "moon")
    assert search(tags=[]) == expect("earth", "google", "both", "moon")
    # Tags combine with the state filter.
    storage.update_incident_status(made["both"], is_resolved=True)
    assert search(tags=["earth"]) == expect("earth")
    assert search(tags=["earth"], state="closed") == expect("both")
    # A replacement's tags are the ones searched.
    storage.replace_incident(made["moon"], content(title="moon", tags=["earth"]))
    assert search(tags=["moon"]) == []
    assert search(tags=["earth"]) == expect("earth", "moon")


def test_search_unknown_tags_rejected(store):
    storage.create_incident(content())
    with pytest.raises(UnknownTags) as caught:
        storage.search_incidents(IncidentFilters(tags=["earth", "mars"]))
    assert caught.value.tags == ["mars"]


def test_search_created_range_inclusive(store, clock):
    created = []
    for _ in range(5):
        incident = storage.create_incident(content())
        created.append((incident.created_at, incident.number))
        clock.advance(10)
    times = [t for t, _ in created]

    def numbers_between(after=None, before=None):
        return sorted(
            (
                n
                for t, n in created
                if (after is None or t >= after) and (before is None or t <= before)
            ),
            reverse=True,
        )

    for after, before in [
        (times[1], times[3]),  # both bounds exactly on incidents
        (times[1] + 1, times[3] - 1),
        (times[2], times[2]),
        (times[0], None),
        (None, times[0]),
        (times[4] + 1, None),
        (None, times[0] - 1),
        (times[3], times[1]),  # empty range
    ]:
        expected = numbers_between(after, before)
        assert search(created_after=after, created_before=before) == expected, (after, before)
    assert search(created_after=times[1], created_before=times[3]) == [
        created[3][1],
        created[2][1],
        created[1][1],
    ]


def test_search_title_case_insensitive(store, clock):
    titles = ["ÉCLAIR outage", "éclair pastry", "Eclair plain", "Straße closed", "DATABASE down"]
    numbers = {}
    for title in titles:
        numbers[title] = storage.create_incident(content(title=title)).number
        clock.advance(1)

    def expect(*chosen):
        return sorted((numbers[t] for t in chosen), reverse=True)

    assert search(title_like="éclair") == expect("ÉCLAIR outage", "éclair pastry")
    assert search(title_like="ÉCLAIR") == expect("ÉCLAIR outage", "éclair pastry")
    assert search(title_like="Éclair") == expect("ÉCLAIR outage", "éclair pastry")
    assert search(title_like="eclair") == expect("Eclair plain")
    assert search(title_like="database") == expect("DATABASE down")
    assert search(title_like="aSe Do") == expect("DATABASE down")
    assert search(title_like="STRASSE") == expect("Straße closed")
    assert search(title_like="straße") == expect("Straße closed")
    assert search(title_like="LAIR") == expect("ÉCLAIR outage", "éclair pastry", "Eclair plain")
    assert search(title_like="nothing like it") == []
    # A replaced title is searched by its new text.
    storage.replace_incident(numbers["DATABASE down"], content(title="Network ÉCLAIR"))
    assert search(title_like="database") == []
    assert search(title_like="network éclair") == expect("DATABASE down")


def test_search_title_wildcards_are_literal(store, clock):
    titles = ["100% down", "100 percent down", "a_b", "axb", "back\\slash", "backslash", "plain"]
    numbers = {}
    for title in titles:
        numbers[title] = storage.create_incident(content(title=title)).number
        clock.advance(1)

    def expect(*chosen):
        return sorted((numbers[t] for t in chosen), reverse=True)

    assert search(title_like="%") == expect("100% down")
    assert search(title_like="0% d") == expect("100% down")
    assert search(title_like="100%") == expect("100% down")
    assert search(title_like="_") == expect("a_b")
    assert search(title_like="a_b") == expect("a_b")
    assert search(title_like="%_%") == []
    assert search(title_like="\\") == expect("back\\slash")
    assert search(title_like="k\\s") == expect("back\\slash")


def test_search_newest_first_ties_by_number(store, clock):
    # Created at t, t, t+5, t+5, t+5, t+9 (several in the same second).
    created = []
    for step in (0, 0, 5, 0, 0, 4):
        clock.advance(step)
        incident = storage.create_incident(content())
        created.append((incident.created_at, incident.number))
    assert len({t for t, _ in created}) == 3
    expected = [n for _, n in sorted(created, key=lambda c: (c[0], c[1]), reverse=True)]
    assert search() == expected
    assert search(per_page=100) == expected


def test_search_order_follows_created_at_not_number(store, clock):
    """Newest first means by createdAt: the order of numbers only breaks ties. Checked by
    creating incidents while the clock goes backwards."""
    created = []
    start = now_of(clock)
    for at in (1000, 3000, 2000):
        clock.now = start + at
        incident = storage.create_incident(content())
        created.append((incident.created_at, incident.number))
    expected = [n for _, n in sorted(created, reverse=True)]
    assert expected != sorted((n for _, n in created), reverse=True)
    assert search() == expected


def test_search_pagination(store, clock):
    total = 25
    for _ in range(total):
        storage.create_incident(content())
        clock.advance(3)
    newest_first = list(range(total, 0, -1))
    for per_page in (1, 7, 10, 25, 100):
        pages = []
        page = 1
        while True:
            found = search(page=page, per_page=per_page)
            assert found == newest_first[(page - 1) * per_page : page * per_page]
            if not found:
                break
            assert len(found) <= per_page
            pages.extend(found)
            page += 1
        assert pages == newest_first
    assert search() == newest_first[:10]  # defaults: page 1, 10 per page
    assert search(page=3) == newest_first[20:30]
    assert search(page=4) == []
    assert search(page=1000, per_page=100) == []


def test_search_filters_combine(store, clock):
    t0 = now_of(clock)
    a = storage.create_incident(content(title="Disk full", tags=["earth"])).number
    clock.advance(10)
    b = storage.create_incident(content(title="disk slow", tags=["google"])).number
    clock.advance(10)
    c = storage.create_incident(content(title="DISK gone", tags=["earth", "moon"])).number
    clock.advance(10)
    storage.create_incident(content(title="Network", tags=["earth"]))
    assert search(title_like="disk", tags=["earth"]) == [c, a]
    assert search(title_like="disk", tags=["earth"], created_after=t0 + 1) == [c]
    assert search(title_like="disk", created_before=t0 + 10) == [b, a]
    assert search(title_like="disk", per_page=2, page=2) == [a]


def test_search_returns_tags(store, clock):
    first = storage.create_incident(content(tags=["moon", "earth"]))
    clock.advance(1)
    second = storage.create_incident(content(tags=["google"]))
    found = storage.search_incidents(IncidentFilters())
    assert [(i.number, i.tags) for i in found] == [
        (second.number, ["google"]),
        (first.number, ["moon", "earth"]),
    ]
    # Filtering by one tag still answers all of the incident's tags.
    found = storage.search_incidents(IncidentFilters(tags=["earth"]))
    assert [(i.number, i.tags) for i in found] == [(first.number, ["moon", "earth"])]


# ----------------------------------------------------------------------------- schema


def schema_version() -> int:
    with database.connection_context():
        rows = list(SchemaVersion.select())
    assert len(rows) == 1
    return rows[0].version


def columns(table: str) -> list[str]:
    with database.connection_context():
        return [column.name for column in database.get_columns(table)]


def seed(clock):
    """Some data in every table; answers what get_incident/list_comments/current_state see."""
    storage.record_status("earth", "UP", 5, None)
    incident = storage.create_incident(content(title="Seeded", tags=["earth", "google"]))
    storage.add_comment(incident.number, "seed comment")
    return observe(incident.number)


def observe(number):
    return (
        snapshot(storage.get_incident(number)),
        [(c.id, c.body, c.created_at) for c in storage.list_comments(number)],
        storage.current_state("earth"),
        data_points(),
    )


def test_migrate_schema_is_idempotent(store, clock):
    version = schema_version()
    assert version == 1 + len(storage.database.MIGRATIONS)
    seen = seed(clock)
    assert storage.migrate_schema() == version
    assert storage.migrate_schema() == version
    assert schema_version() == version
    assert observe(1) == seen
    # And the numbering carries on.
    assert storage.create_incident(content()).number == 2


def test_migration_path(store, clock):
    seen = seed(clock)
    start_version = schema_version()
    applied = []

    def add_extra(migrator):
        applied.append("extra")
        migrate(migrator.add_column("incident", "extra", TextField(null=True)))

    def add_note(migrator):
        applied.append("note")
        migrate(migrator.add_column("comment", "note", TextField(null=True)))

    shipped = storage.database.MIGRATIONS
    assert "extra" not in columns("incident")
    assert storage.database.migrate_schema(migrations=[*shipped, add_extra]) == start_version + 1
    assert applied == ["extra"]
    assert schema_version() == start_version + 1
    assert "extra" in columns("incident")
    assert observe(1) == seen

    # Running again applies nothing.
    assert storage.database.migrate_schema(migrations=[*shipped, add_extra]) == start_version + 1
    assert applied == ["extra"]

    # Appending a migration applies only the new one.
    assert (
        storage.database.migrate_schema(migrations=[*shipped, add_extra, add_note])
        == start_version + 2
    )
    assert applied == ["extra", "note"]
    assert schema_version() == start_version + 2
    assert "note" in columns("comment")
    assert observe(1) == seen

    # The new columns are really there and the domain functions keep working beside them.
    with database.connection_context():
        database.execute_sql("UPDATE incident SET extra = 'x'")
        assert database.execute_sql("SELECT extra FROM incident").fetchall() == [("x",)]
    second = storage.create_incident(content(title="after migration"))
    assert second.number == 2
    storage.add_comment(second.number, "c")

    # Reopening with the application's own (shorter) migration list keeps everything.
    storage.close_database()
    storage.open_database(store)
    assert schema_version() == start_version + 2
    assert observe(1) == seen
    assert storage.get_incident(2).title == "after migration"


def test_new_database_created_at_newest_version(store, clock):
    applied = []

    def add_extra(migrator):
        applied.append("extra")
        migrate(migrator.add_column("incident", "extra", TextField(null=True)))

    with database.connection_context():
        database.drop_tables(list(reversed(TABLES)))
    assert storage.database.migrate_schema(migrations=[add_extra]) == 2
    # Created straight from the models: the migration is not run.
    assert applied == []
    assert schema_version() == 2
    assert storage.create_incident(content()).number == 1


def test_concurrent_migrations_apply_once(store, clock):
    seen = seed(clock)
    start_version = schema_version()
    applied = []
    lock = threading.Lock()

    def add_extra(migrator):
        with lock:
            applied.append("extra")
        time.sleep(0.3)  # widen the window in which another process could start the same step
        migrate(migrator.add_column("incident", "extra", TextField(null=True)))

    migrations = [*storage.database.MIGRATIONS, add_extra]
    results = run_concurrently(6, lambda _: storage.database.migrate_schema(migrations=migrations))
    assert results == [start_version + 1] * 6
    assert applied == ["extra"]
    assert schema_version() == start_version + 1
    assert observe(1) == seen


def test_version_1_database_gains_api_keys(store, clock):
    """A database made before API keys existed (schema version 1) is migrated in place."""
    seen = seed(clock)
    with database.connection_context():
        database.drop_tables([ApiKey, DaySummary, HistoryVersion])
        database.execute_sql("UPDATE schema_version SET version = 1")
    assert storage.migrate_schema() == 1 + len(storage.database.MIGRATIONS)
    assert "key_hash" in columns("api_key")
    assert observe(1) == seen
    key = storage.keys.create_key("after-upgrade", "push", now_of(clock))
    assert storage.keys.find_key(key).name == "after-upgrade"


def test_reopen_keeps_data(store, clock):
    seen = seed(clock)
    version = schema_version()
    storage.close_database()
    storage.open_database(store)
    assert schema_version() == version
    assert observe(1) == seen
    assert storage.create_incident(content()).number == 2
    storage.close_database()
    storage.open_database(store)
    assert storage.get_incident(2).number == 2
    assert observe(1) == seen


# ----------------------------------------------------------------------------- concurrency

THREADS = 8
PER_THREAD = 10


def test_concurrent_incident_creation(store, clock):
    def job(worker):
        return [
            storage.create_incident(
                content(title=f"w{worker}-{i}", tags=["earth", "google"][: 1 + i % 2])
            ).number
            for i in range(PER_THREAD)
        ]

    results = run_concurrently(THREADS, job)
    numbers = [n for numbers in results for n in numbers]
    total = THREADS * PER_THREAD
    assert sorted(numbers) == list(range(1, total + 1))
    # Each thread saw its own incidents numbered in its creation order.
    for worker_numbers in results:
        assert worker_numbers == sorted(worker_numbers)
    assert incident_count() == total
    for worker, worker_numbers in enumerate(results):
        for i, number in enumerate(worker_numbers):
            incident = storage.get_incident(number)
            assert incident.title == f"w{worker}-{i}"
            assert incident.tags == ["earth", "google"][: 1 + i % 2]


def test_concurrent_comments(store, clock):
    incident = storage.create_incident(content())
    other = storage.create_incident(content())

    def job(worker):
        target = other.number if worker == 0 else incident.number
        return [storage.add_comment(target, f"w{worker}-{i}").id for i in range(PER_THREAD)]

    results = run_concurrently(THREADS, job)
    ids = [i for ids in results for i in ids]
    assert len(set(ids)) == len(ids) == THREADS * PER_THREAD
    listed = storage.list_comments(incident.number)
    assert len(listed) == (THREADS - 1) * PER_THREAD
    assert [c.id for c in listed] == sorted(c.id for c in listed)
    assert {c.id for c in listed} == {i for ids in results[1:] for i in ids}
    assert [c.id for c in storage.list_comments(other.number)] == results[0]
    # Each thread's comments are in its order.
    by_id = {c.id: c.body for c in listed}
    for worker in range(1, THREADS):
        assert [by_id[i] for i in results[worker]] == [f"w{worker}-{i}" for i in range(PER_THREAD)]


def test_concurrent_same_minute_writes(store, clock):
    minute = floor_minute(now_of(clock)) - MINUTE
    statuses = ["UP", "DOWN", "DEGRADED"]
    written = set()
    for worker in range(THREADS):
        for i in range(PER_THREAD):
            written.add((statuses[(worker + i) % 3], float(worker * 1000 + i)))

    def job(worker):
        return [
            storage.record_status(
                "earth", statuses[(worker + i) % 3], worker * 1000 + i, minute + i % MINUTE
            )
            for i in range(PER_THREAD)
        ]

    results = run_concurrently(THREADS, job)
    assert all(answer == minute for answers in results for answer in answers)
    rows = data_points()
    assert len(rows) == 1
    tag, stored_minute, status, latency = rows[0]
    assert (tag, stored_minute) == ("earth", minute)
    assert (status, latency) in written
    # The surviving value is the last write of one of the threads.
    last_writes = {
        (statuses[(w + PER_THREAD - 1) % 3], float(w * 1000 + PER_THREAD - 1))
        for w in range(THREADS)
    }
    assert (status, latency) in last_writes
    state = storage.current_state("earth")
    assert (state.status, state.last_updated_at) == (status, minute)


def test_concurrent_partial_status_updates_lose_nothing(store, clock):
    """Concurrent status updates of different fields of the same incidents: each changes only
    its own field, so every change must survive (no lost update from a stale read)."""
    start = now_of(clock) - 10_000
    numbers = [
        storage.create_incident(content(start_datetime=start)).number for _ in range(PER_THREAD)
    ]

    def job(worker):
        for i, number in enumerate(numbers):
            kind = (worker + i) % 3
            if kind == 0:
                storage.update_incident_status(number, is_identified=True)
            elif kind == 1:
                storage.update_incident_status(number, is_resolved=True)
            else:
                storage.update_incident_status(number, end_datetime=start + 1 + worker)
        return None

    run_concurrently(THREADS, job)
    for number in numbers:
        incident = storage.get_incident(number)
        assert incident.is_identified is True, number
        assert incident.is_resolved is True, number
        assert incident.closed_at == now_of(clock), number
        assert incident.end_datetime is not None, number
        assert start < incident.end_datetime <= start + THREADS, number
        assert incident.start_datetime == start


def test_concurrent_mixed_writes_and_reads(store, clock):
    """Writers of every kind and readers at once: nothing fails, nothing is lost."""
    incident = storage.create_incident(content())
    base = floor_minute(now_of(clock)) - 200 * MINUTE

    def job(worker):
        kind = worker % 4
        done = []
        for i in range(PER_THREAD):
            if kind == 0:
                done.append(storage.create_incident(content(title=f"m{worker}-{i}")).number)
            elif kind == 1:
                done.append(storage.add_comment(incident.number, f"m{worker}-{i}").id)
            elif kind == 2:
                done.append(
                    storage.record_status(
                        "earth", "UP", i, base + (worker * PER_THREAD + i) * MINUTE
                    )
                )
            else:
                storage.search_incidents(IncidentFilters(title_like="m"))
                storage.current_state("earth")
                storage.list_comments(incident.number)
                done.append(None)
        return done

    results = run_concurrently(THREADS, job)
    created = [n for w, r in enumerate(results) if w % 4 == 0 for n in r]
    comments = [n for w, r in enumerate(results) if w % 4 == 1 for n in r]
    minutes = [n for w, r in enumerate(results) if w % 4 == 2 for n in r]
    assert sorted(created) == list(range(2, 2 + len(created)))
    assert len(set(comments)) == len(comments)
    assert len(storage.list_comments(incident.number)) == len(comments)
    assert sorted(p[1] for p in data_points("earth")) == sorted(minutes)
