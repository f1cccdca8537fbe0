"""The retention job: minute data older than the retention period is deleted at start and
then every hour, in the background. Incidents and comments are kept."""

import logging
import threading

import peewee

from storage.maintenance import prune_points
from storage.status import DAY

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600


class RetentionJob:
    def __init__(self, days: int, clock, interval: float = INTERVAL_SECONDS) -> None:
        self.days = days
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        if self.days > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self) -> int:
        """Delete what is older than the retention period now; answer how many points."""
        before = int(self.clock()) - self.days * DAY
        deleted = prune_points(before)
        if deleted:
            log.info("retention: deleted %d data points older than %d days", deleted, self.days)
        return deleted

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except peewee.DatabaseError as exc:
                # A storage fault now is no reason to stop serving; the next round retries.
                log.error("retention: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.interval)
