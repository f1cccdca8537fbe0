"""storage.history: per-day summaries and window counts, on both databases.

The summaries are kept by triggers (storage.rollup); every test here compares them with a
recount from the minute points, after writes, rewrites of the same minute, retention deletes
and a migration from a database that had points before the summaries existed.
"""

import os
import threading
import time
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playhouse.db_url import connect

import storage
import storage.database
from storage import maintenance
from storage.catalog import Monitor
from storage.history import Counts, Day, daily_history, window_counts
from storage.models import DataPoint, DaySummary, HistoryVersion, SchemaVersion, database
from storage.status import DAY, MINUTE

EARTH = Monitor("earth", "Earth")
MOON = Monitor("moon", "Moon", include_degraded_in_downtime=True)
STRICT = Monitor("strict", "Strict", day_down_minimum_count=3, day_degraded_minimum_count=2)
MONITORS = [EARTH, MOON, STRICT]
STATUSES = ["UP", "DEGRADED", "DOWN"]
EXAMPLES = int(os.environ.get("KENER_HISTORY_EXAMPLES", "40"))


@pytest.fixture
def store(database_url, clock):
    storage.open_database(database_url)
    storage.catalog.configure(MONITORS, clock)
    yield database_url
    storage.close_database()


def recount() -> dict[tuple[str, int], Counts]:
    """Each (tag, day)'s counts, counted from the points themselves."""
    counted: dict[tuple[str, int], dict[str, int]] = {}
    with database.connection_context():
        for point in DataPoint.select():
            key = (point.tag, point.minute - point.minute % DAY)
            counted.setdefault(key, {}).setdefault(point.status, 0)
            counted[key][point.status] += 1
    return {
        key: Counts(c.get("UP", 0), c.get("DEGRADED", 0), c.get("DOWN", 0))
        for key, c in counted.items()
    }


def summaries() -> dict[tuple[str, int], Counts]:
    """The stored summaries, days that count nothing left out."""
    with database.connection_context():
        return {
            (row.tag, row.day): Counts(row.up, row.degraded, row.down)
            for row in DaySummary.select()
            if row.up or row.degraded or row.down
        }


def direct_counts(tag: str, since: int, until: int) -> Counts:
    with database.connection_context():
        statuses = [
            p.status
            for p in DataPoint.select().where(
                DataPoint.tag == tag, DataPoint.minute >= since, DataPoint.minute <= until
            )
        ]
    return Counts(statuses.count("UP"), statuses.count("DEGRADED"), statuses.count("DOWN"))


def clear() -> None:
    with database.connection_context():
        DataPoint.delete().execute()
        DaySummary.delete().execute()


# An operation: write a status at a minute (minutes back from now), or prune before a day.
writes = st.tuples(
    st.just("write"),
    st.sampled_from([m.tag for m in MONITORS]),
    # Few distinct minutes, so that rewrites of the same minute are common.
    st.sampled_from([0, 1, 2, 59, 60, 61, 1439, 1440, 1441, 2 * 1440, 30 * 1440, 89 * 1440]),
    st.sampled_from(STATUSES),
)
prunes = st.tuples(st.just("prune"), st.integers(min_value=1, max_value=91))
windows = st.tuples(st.integers(0, 92 * 1440), st.integers(0, 92 * 1440))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(st.one_of(writes, writes, writes, prunes), max_size=40), window=windows)
def test_summaries_equal_a_recount(store, clock, operations, window):
    clear()
    now = int(clock())
    for operation in operations:
        if operation[0] == "write":
            _, tag, minutes_back, status = operation
            storage.record_status(tag, status, 1.0, now - minutes_back * MINUTE)
        else:
            maintenance.prune_points(now - operation[1] * DAY)
    assert summaries() == recount()
    since, until = sorted(now - minutes * MINUTE for minutes in window)
    for monitor in MONITORS:
        assert window_counts(monitor.tag, since, until) == direct_counts(
            monitor.tag, since, until
        ), (since, until)


def test_rewrites_with_the_same_status_change_nothing(store, clock):
    now = int(clock())
    for latency in (1.0, 2.0, 3.0):
        storage.record_status("earth", "DOWN", latency, now)
    assert summaries() == {("earth", now - now % DAY): Counts(down=1)}


def test_concurrent_writers_keep_the_summaries_exact(store, clock):
    now = int(clock())
    minutes = [now - i * MINUTE for i in range(20)]

    def writer(index: int) -> None:
        for round_ in range(15):
            for minute in minutes:
                status = STATUSES[(index + round_ + minute // MINUTE) % 3]
                storage.record_status("earth", status, 1.0, minute)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert summaries() == recount()
    assert sum(c.total for c in summaries().values()) == len(minutes)


def test_migration_builds_summaries_from_existing_points(store, clock):
    now = int(clock())
    for back in range(0, 3 * 1440, 7):
        storage.record_status("earth", STATUSES[back % 3], 1.0, now - back * MINUTE)
    expected = recount()
    # Back to schema version 2: no summaries, no history version, no triggers.
    with database.connection_context():
        database.drop_tables([DaySummary, HistoryVersion])
        if storage.database.is_sqlite():
            for name in ("insert", "update", "delete"):
                database.execute_sql(f"DROP TRIGGER IF EXISTS day_summary_{name}")
        else:
            database.execute_sql("DROP FUNCTION day_summary_apply CASCADE")
        SchemaVersion.update(version=2).execute()
    assert storage.database.migrate_schema() == 1 + len(storage.database.MIGRATIONS)
    assert summaries() == expected
    # The migrated database keeps them from then on.
    storage.record_status("earth", "DOWN", 1.0, now)
    assert summaries() == recount()


@pytest.fixture
def real_clock_store(database_url):
    """Storage on the real clock, as the database's own: the triggers tell old points from
    new by the database's clock."""
    storage.open_database(database_url)
    storage.catalog.configure(MONITORS, time.time)
    other = connect(database_url)  # another connection, as another process would hold
    yield other
    other.close()
    storage.close_database()


def history_version() -> int:
    with database.connection_context():
        return HistoryVersion.select(HistoryVersion.n).scalar()


def expected_days(tag: str) -> list[Counts]:
    counted = recount()
    now = int(time.time())
    today = now - now % DAY
    return [counted.get((tag, today - back * DAY), Counts()) for back in range(89, -1, -1)]


def test_kept_history_follows_every_write_of_any_connection(real_clock_store):
    other = real_clock_store
    now = int(time.time())
    placeholder = "?" if storage.database.is_sqlite() else "%s"

    def write_elsewhere(minute: int, status: str) -> None:
        other.execute_sql(
            "INSERT INTO data_point (tag, minute, status, latency) "
            f"VALUES ('earth', {placeholder}, {placeholder}, 1.0) "
            "ON CONFLICT (tag, minute) DO UPDATE SET status = excluded.status",
            (minute - minute % MINUTE, status),
        )

    def history() -> list[Counts]:
        return [day.counts for day in daily_history(["earth", "moon"])["earth"]]

    storage.record_status("earth", "UP", 1.0, now - 10 * DAY)
    assert history() == expected_days("earth")
    # A write for now changes today only: the kept days stay valid, the version unchanged.
    version = history_version()
    storage.record_status("earth", "DOWN", 1.0, now)
    assert history_version() == version
    assert history() == expected_days("earth")
    # Late writes, rewrites and deletes of old points, from this connection or another.
    random = Random(7)
    for step in range(60):
        minute = now - random.choice([2, 5, 10, 40, 89]) * DAY - random.randrange(1440) * MINUTE
        if step % 3 == 0:
            write_elsewhere(minute, random.choice(STATUSES))
        elif step % 3 == 1:
            storage.record_status("earth", random.choice(STATUSES), 1.0, minute)
        else:
            other.execute_sql(
                f"DELETE FROM data_point WHERE tag = 'earth' AND minute < {placeholder}",
                (minute,),
            )
        assert history() == expected_days("earth"), step
    assert history_version() > version


def test_daily_history_is_90_days_ending_today(store, clock):
    now = int(clock())
    today = now - now % DAY
    history = daily_history(["earth", "moon"])
    assert list(history) == ["earth", "moon"]
    for days in history.values():
        assert [day.start for day in days] == [today - (89 - i) * DAY for i in range(90)]
        assert all(day.counts == Counts() for day in days)
    assert len(daily_history(["earth"], days=3)["earth"]) == 3
    with pytest.raises(storage.UnknownTags):
        daily_history(["earth", "mars"])


def test_day_status_rules(store, clock):
    now = int(clock())
    today = now - now % DAY
    # Yesterday: UP and DEGRADED; two days ago: one DOWN among UPs; today: UP only.
    storage.record_status("earth", "UP", 1.0, today - DAY + 60)
    storage.record_status("earth", "DEGRADED", 1.0, today - DAY + 120)
    storage.record_status("earth", "UP", 1.0, today - 2 * DAY)
    storage.record_status("earth", "DOWN", 1.0, today - 2 * DAY + 60)
    storage.record_status("earth", "UP", 1.0, now)
    days = daily_history(["earth"], days=4)["earth"]
    assert [day.status(EARTH) for day in days] == ["NO_DATA", "DOWN", "DEGRADED", "UP"]
    assert days[1].counts == Counts(up=1, down=1)
    assert days[1].counts.uptime(EARTH) == "50"
    assert days[2].counts.uptime(EARTH) == "100"
    assert days[2].counts.uptime(MOON) == "50"  # DEGRADED counted as down
    assert Counts().uptime(EARTH) == "-"


def test_day_status_minimum_counts(store, clock):
    now = int(clock())
    today = now - now % DAY
    for i in range(2):
        storage.record_status("strict", "DOWN", 1.0, today + i * 60)
    storage.record_status("strict", "DEGRADED", 1.0, today + 600)
    (day,) = daily_history(["strict"], days=1)["strict"]
    # 2 DOWN < 3 and 1 DEGRADED < 2: the day is UP, though not all its points were.
    assert day.status(STRICT) == "UP"
    storage.record_status("strict", "DEGRADED", 1.0, today + 660)
    assert daily_history(["strict"], days=1)["strict"][0].status(STRICT) == "DEGRADED"
    storage.record_status("strict", "DOWN", 1.0, today + 720)
    assert daily_history(["strict"], days=1)["strict"][0].status(STRICT) == "DOWN"
    assert Day(today, Counts(down=1)).status(EARTH) == "DOWN"
