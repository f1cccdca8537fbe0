"""What storage knows besides the database: the configured monitors and the clock."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from storage.errors import NotShown, UnknownTags


@dataclass(frozen=True)
class Monitor:
    tag: str
    name: str
    description: str = ""
    include_degraded_in_downtime: bool = False
    hidden: bool = False  # left out of the public pages; the API serves it as any other
    # A day counts as DOWN (DEGRADED) from this many DOWN (DEGRADED) points on.
    day_down_minimum_count: int = 1
    day_degraded_minimum_count: int = 1


class Catalog:
    def __init__(self) -> None:
        self._monitors: dict[str, Monitor] = {}
        self._clock: Callable[[], float] = time.time

    def configure(self, monitors: Iterable[Monitor], clock: Callable[[], float]) -> None:
        self._monitors = {monitor.tag: monitor for monitor in monitors}
        self._clock = clock

    def monitor(self, tag: str) -> Monitor:
        try:
            return self._monitors[tag]
        except KeyError:
            raise UnknownTags([tag]) from None

    def tags(self) -> list[str]:
        """Every monitor's tag, hidden ones included, in the monitors file's order."""
        return list(self._monitors)

    def shown(self) -> list[Monitor]:
        """The monitors the public pages show, in the monitors file's order."""
        return [monitor for monitor in self._monitors.values() if not monitor.hidden]

    def shown_monitor(self, tag: str) -> Monitor:
        monitor = self._monitors.get(tag)
        if monitor is None or monitor.hidden:
            raise NotShown(tag)
        return monitor

    def require_known(self, tags: Iterable[str]) -> None:
        unknown = [tag for tag in tags if tag not in self._monitors]
        if unknown:
            raise UnknownTags(unknown)

    def now(self) -> int:
        """The current time in whole UTC seconds."""
        return int(self._clock())


catalog = Catalog()
