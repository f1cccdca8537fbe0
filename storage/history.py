"""Monitors' history by UTC day and over any window, at a cost flat in the amount of history.

The `day_summary` table holds, per monitor and UTC day, how many points of each status the
day has, kept by triggers on `data_point` (storage.rollup) in the transaction of each write.

Measured before choosing (10 monitors, 90 days of minute points): counting the points of 90
days on each read took 355 ms on SQLite and 209 ms on PostgreSQL; one day, 3 ms.
"""

from typing import NamedTuple

from storage.catalog import Monitor, catalog
from storage.database import Statement, reads
from storage.models import database
from storage.status import DAY, HISTORY_DAYS, format_uptime


class Counts(NamedTuple):
    """Points of each status. (Tuples: a page builds about a thousand of these.)"""

    up: int = 0
    degraded: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        return self.up + self.degraded + self.down

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.up + other.up, self.degraded + other.degraded, self.down + other.down)

    def uptime(self, monitor: Monitor) -> str:
        """Kener's uptime text: UP and DEGRADED points count as up, DEGRADED as down when the
        monitor sets `includeDegradedInDowntime`."""
        up = self.up if monitor.include_degraded_in_downtime else self.up + self.degraded
        return format_uptime(up, self.total)


class Day(NamedTuple):
    """One UTC day of a monitor: its midnight (UTC seconds) and its points."""

    start: int
    counts: Counts

    def status(self, monitor: Monitor) -> str:
        """DOWN when the day has at least the monitor's `dayDownMinimumCount` DOWN points
        (default 1), else DEGRADED likewise, else UP when it has any point, else NO_DATA."""
        if self.counts.down and self.counts.down >= monitor.day_down_minimum_count:
            return "DOWN"
        if self.counts.degraded and self.counts.degraded >= monitor.day_degraded_minimum_count:
            return "DEGRADED"
        return "UP" if self.counts.total else "NO_DATA"


# Past days' summaries are kept between requests, while `history_version` stays the same: the
# triggers (storage.rollup) count it up on any change to a point older than a day by the
# database's clock. The last RECENT_DAYS days are read on every request, which leaves two days
# of margin for a database clock behind this server's.
RECENT_DAYS = 3
_KEPT_MAX = 32
_kept: dict[tuple, tuple] = {}  # (tags, first day, first recent day) -> (db, version, days)


@reads
def daily_history(tags: list[str], days: int = HISTORY_DAYS) -> dict[str, list[Day]]:
    """For each tag, its last `days` UTC days, oldest first, ending today. One query for the
    last RECENT_DAYS days of every tag, and one more for the days before them only when a
    point older than a day has changed since they were last read."""
    for tag in tags:
        catalog.monitor(tag)
    today = catalog.now() // DAY * DAY
    first = today - (days - 1) * DAY
    recent = max(first, today - (RECENT_DAYS - 1) * DAY)
    # The version is read before the days: summaries read after a concurrent change are then
    # kept under the older version, and read again on the next request.
    version = _HISTORY_VERSION.execute().fetchone()[0]
    key = (tuple(tags), first, recent)
    kept = _kept.get(key)
    if kept is None or kept[0] is not database.obj or kept[1] != version:
        if len(_kept) >= _KEPT_MAX:
            _kept.clear()
        kept = _kept[key] = (database.obj, version, _read_days(tags, first, recent - DAY))
    latest = _read_days(tags, recent, today)
    return {tag: kept[2][tag] + latest[tag] for tag in tags}


def _read_days(tags: list[str], first: int, last: int) -> dict[str, list[Day]]:
    found: dict[str, dict[int, Counts]] = {tag: {} for tag in tags}
    if tags and first <= last:
        param = database.obj.param
        rows = database.obj.execute_sql(
            "SELECT tag, day, up, degraded, down FROM day_summary "
            f"WHERE tag IN ({', '.join([param] * len(tags))}) AND day >= {param} "
            f"AND day <= {param}",
            (*tags, first, last),
        )
        for tag, day, up, degraded, down in rows:
            found[tag][day] = Counts(up, degraded, down)
    empty = Counts()
    return {
        tag: [Day(start, found[tag].get(start, empty)) for start in range(first, last + DAY, DAY)]
        for tag in tags
    }


_HISTORY_VERSION = Statement("SELECT n FROM history_version")


@reads
def window_counts(tag: str, since: int, until: int) -> Counts:
    """The points of `tag` whose minute is in [since, until] (UTC seconds): whole days from the
    summaries, the two partial days at the edges from the points, at most two days of
    minutes whatever the window's length."""
    catalog.monitor(tag)
    if until < since:
        return Counts()
    first_whole = -(-since // DAY) * DAY  # the first midnight at or after `since`
    end_whole = (until + 1) // DAY * DAY  # the midnight after the last whole day
    if end_whole - first_whole < DAY:
        return _point_counts(tag, since, until)
    row = _SUMMED_DAYS.execute(tag, first_whole, end_whole - DAY).fetchone()
    whole = Counts(*(value or 0 for value in row))
    return _point_counts(tag, since, first_whole - 1) + whole + _point_counts(tag, end_whole, until)


def _point_counts(tag: str, since: int, until: int) -> Counts:
    if until < since:
        return Counts()
    counts = dict(_POINT_COUNTS.execute(tag, since, until).fetchall())
    return Counts(counts.get("UP", 0), counts.get("DEGRADED", 0), counts.get("DOWN", 0))


_SUMMED_DAYS = Statement(
    """SELECT SUM(up), SUM(degraded), SUM(down) FROM day_summary
    WHERE tag = {p} AND day >= {p} AND day <= {p}"""
)
_POINT_COUNTS = Statement(
    """SELECT status, COUNT(*) FROM data_point WHERE tag = {p} AND minute >= {p} AND minute <= {p}
    GROUP BY status"""
)
