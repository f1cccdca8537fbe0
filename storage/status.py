"""Monitors' data points: one status per monitor and UTC minute."""

from dataclasses import dataclass
from fractions import Fraction

from storage.catalog import catalog
from storage.database import Statement, reads, writes
from storage.errors import InvalidValue

MINUTE = 60
DAY = 86_400
HISTORY_DAYS = 90
STATUSES = ("UP", "DOWN", "DEGRADED")


@dataclass(frozen=True)
class MonitorState:
    status: str | None  # None: the monitor has no data point yet
    last_updated_at: int | None
    uptime: str


def floor_to_minute(seconds: int) -> int:
    return seconds - seconds % MINUTE


@writes
def record_status(tag: str, status: str, latency: float, timestamp: int | None) -> int:
    """Store the monitor's status for the minute of `timestamp` (default now), replacing any
    earlier write for that minute. Answers the minute stored."""
    catalog.monitor(tag)
    now_minute = floor_to_minute(catalog.now())
    minute = now_minute if timestamp is None else floor_to_minute(timestamp)
    if minute > now_minute:
        raise InvalidValue(f"timestampInSeconds {timestamp} is in future")
    if minute < now_minute - HISTORY_DAYS * DAY:
        raise InvalidValue(f"timestampInSeconds {timestamp} is older than {HISTORY_DAYS} days")
    _UPSERT_POINT.execute(tag, minute, status, float(latency))
    return minute


@reads
def current_state(tag: str) -> MonitorState:
    """The newest data point at or before now, and today's (UTC) uptime."""
    monitor = catalog.monitor(tag)
    now = catalog.now()
    newest = _NEWEST_POINT.execute(tag, now).fetchone()
    today = now - now % DAY
    if _POINT_AFTER.execute(tag, now).fetchone() is None:
        # Every point of today is at or before now (the usual case: later minutes are refused
        # when written), so today's summary, kept by the database's triggers, holds the counts:
        # one row read instead of up to 1,440 points counted.
        row = _DAY_COUNTS.execute(tag, today).fetchone()
        counts = dict(zip(STATUSES_COUNTED, row, strict=True)) if row else {}
    else:
        # Points after now (written under another clock): count those up to now only.
        counts = dict(_STATUS_COUNTS.execute(tag, today, now).fetchall())
    up = counts.get("UP", 0)
    if not monitor.include_degraded_in_downtime:
        up += counts.get("DEGRADED", 0)
    return MonitorState(
        status=newest[0] if newest else None,
        last_updated_at=newest[1] if newest else None,
        uptime=format_uptime(up, sum(counts.values())),
    )


@reads
def latest_status(tag: str) -> str | None:
    """The status of the newest data point at or before now; None without one."""
    catalog.monitor(tag)
    newest = _NEWEST_POINT.execute(tag, catalog.now()).fetchone()
    return newest[0] if newest else None


@reads
def newest_points() -> dict[str, tuple[str, int]]:
    """Each monitor's newest data point at or before now, as (status, minute); a monitor
    without one is left out. For the metrics, hidden monitors included."""
    now = catalog.now()
    found = {}
    for tag in catalog.tags():
        newest = _NEWEST_POINT.execute(tag, now).fetchone()
        if newest:
            found[tag] = (newest[0], newest[1])
    return found


# The statements of the two hottest operations, kept as SQL (see Statement). Those on data_point
# are answered from the (tag, minute) primary key's index, day_summary's from its (tag, day) key.
_UPSERT_POINT = Statement(
    """INSERT INTO data_point (tag, minute, status, latency) VALUES ({p}, {p}, {p}, {p})
    ON CONFLICT (tag, minute) DO UPDATE SET status = excluded.status, latency = excluded.latency"""
)
_NEWEST_POINT = Statement(
    """SELECT status, minute FROM data_point WHERE tag = {p} AND minute <= {p}
    ORDER BY minute DESC LIMIT 1"""
)
_POINT_AFTER = Statement("""SELECT 1 FROM data_point WHERE tag = {p} AND minute > {p} LIMIT 1""")
# The day_summary row of one monitor's day (storage.rollup keeps it), its columns in the
# order of STATUSES_COUNTED.
STATUSES_COUNTED = ("UP", "DEGRADED", "DOWN")
_DAY_COUNTS = Statement(
    """SELECT up, degraded, down FROM day_summary WHERE tag = {p} AND day = {p}"""
)
_STATUS_COUNTS = Statement(
    """SELECT status, COUNT(*) FROM data_point WHERE tag = {p} AND minute >= {p} AND minute <= {p}
    GROUP BY status"""
)


def format_uptime(up: int, total: int) -> str:
    """Kener's ParseUptime: "-" without data, "0", "100", whole multiples of 10 without
    decimals ("50"), anything else with 4 decimals ("99.9306", rounded half up).

    Computed on exact fractions: Kener rounded the binary float, so a tie such as 23 of 640
    could print "3.5937" where the exact value rounds to "3.5938".
    """
    if total == 0:
        return "-"
    if up == 0:
        return "0"
    percent = Fraction(100 * up, total)
    if percent.denominator == 1 and percent.numerator % 10 == 0:
        return str(percent.numerator)
    ten_thousandths = int(percent * 10_000 + Fraction(1, 2))
    return f"{ten_thousandths // 10_000}.{ten_thousandths % 10_000:04d}"
