"""Monitors' data points: one status per monitor and UTC minute."""

from dataclasses import dataclass
from fractions import Fraction

from peewee import fn

from storage.catalog import catalog
from storage.database import reads, writes
from storage.errors import InvalidValue
from storage.models import DataPoint

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
    (
        DataPoint.insert(tag=tag, minute=minute, status=status, latency=latency)
        .on_conflict(
            conflict_target=[DataPoint.tag, DataPoint.minute],
            update={DataPoint.status: status, DataPoint.latency: latency},
        )
        .execute()
    )
    return minute


@reads
def current_state(tag: str) -> MonitorState:
    """The newest data point at or before now, and today's (UTC) uptime."""
    monitor = catalog.monitor(tag)
    now = catalog.now()
    newest = (
        DataPoint.select(DataPoint.status, DataPoint.minute)
        .where((DataPoint.tag == tag) & (DataPoint.minute <= now))
        .order_by(DataPoint.minute.desc())
        .first()
    )
    counts = dict(
        DataPoint.select(DataPoint.status, fn.COUNT(DataPoint.minute))
        .where(
            (DataPoint.tag == tag)
            & (DataPoint.minute >= now - now % DAY)
            & (DataPoint.minute <= now)
        )
        .group_by(DataPoint.status)
        .tuples()
    )
    up = counts.get("UP", 0)
    if not monitor.include_degraded_in_downtime:
        up += counts.get("DEGRADED", 0)
    return MonitorState(
        status=newest.status if newest else None,
        last_updated_at=newest.minute if newest else None,
        uptime=format_uptime(up, sum(counts.values())),
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
