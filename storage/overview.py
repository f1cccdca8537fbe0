"""What the public status page shows, read in one go: each shown monitor's current state and
daily history, and the incidents to list."""

from dataclasses import dataclass

from storage.catalog import Monitor, catalog
from storage.database import Statement, opening, reads
from storage.history import Counts, Day, daily_history
from storage.incidents import open_incidents, resolved_incidents
from storage.models import Incident
from storage.status import DAY, HISTORY_DAYS, latest_status

# Resolved incidents stay on the page this long after their resolution.
RESOLVED_SHOWN_DAYS = 14

# Worst first: the overall status is the first of these that a shown monitor has.
SEVERITY = ("DOWN", "DEGRADED", "UP")


@dataclass(frozen=True)
class MonitorOverview:
    monitor: Monitor
    status: str | None  # the newest point's; None without one
    days: list[Day]

    @property
    def uptime(self) -> str:
        """Uptime over the days shown."""
        total = sum((day.counts for day in self.days), Counts())
        return total.uptime(self.monitor)


@dataclass(frozen=True)
class Overview:
    monitors: list[MonitorOverview]
    open_incidents: list[Incident]
    resolved_incidents: list[Incident]

    @property
    def overall(self) -> str:
        """The worst current status of the shown monitors; NO_DATA when none has a point."""
        return worst(entry.status for entry in self.monitors)


def worst(statuses) -> str:
    present = set(statuses)
    return next((status for status in SEVERITY if status in present), "NO_DATA")


@reads
def data_version() -> tuple[int, int]:
    """A value that changes with every committed change to what the public answers show
    (points, incidents, their tags and comments), by any writer (storage.versioning), and
    with the database opened. Read it before the data: an answer built from data that changed
    in between is then kept under the older value, and built again on the next request."""
    (count,) = _DATA_VERSION.execute().fetchone()
    return opening(), count or 0


_DATA_VERSION = Statement("SELECT CAST(SUM(n) AS BIGINT) FROM data_version")


@reads
def monitor_overview(tags: list[str], days: int = HISTORY_DAYS) -> list[MonitorOverview]:
    """The state and daily history of each of `tags`, in that order."""
    history = daily_history(tags, days)
    return [MonitorOverview(catalog.monitor(tag), latest_status(tag), history[tag]) for tag in tags]


@reads
def status_overview() -> Overview:
    """Everything the status page shows."""
    tags = [monitor.tag for monitor in catalog.shown()]
    return Overview(
        monitors=monitor_overview(tags),
        open_incidents=open_incidents(),
        resolved_incidents=resolved_incidents(catalog.now() - RESOLVED_SHOWN_DAYS * DAY),
    )
