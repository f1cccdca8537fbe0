"""Prometheus metrics (prometheus_client): requests by operationId and status, their latency,
requests in flight, database errors, and per monitor its current status (Uptime Kuma's
encoding: 1 up, 0 down, 2 degraded) and the age of its newest data point.

One registry per application (a process serves one; its waitress threads share it), made by
`configure` in create_app; `Requests` is the ASGI middleware that counts."""

import re
import time

from connexion.lifecycle import ConnexionResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

import storage

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the text format generate_latest writes
STATUS_VALUES = {"UP": 1, "DOWN": 0, "DEGRADED": 2}  # Uptime Kuma's
# Seconds: the API answers in milliseconds; the public pages and searches take longer.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Operations:
    """The operationId of a request, from the contract's paths and methods ("-" when none)."""

    def __init__(self, spec: dict) -> None:
        self._routes = [
            (method.upper(), re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))), op)
            for path, item in spec["paths"].items()
            for method, operation in item.items()
            if method != "parameters"
            for op in [operation.get("operationId", f"{method} {path}")]
        ]

    def of(self, method: str, path: str) -> str:
        for route_method, pattern, operation_id in self._routes:
            if route_method == method and pattern.fullmatch(path):
                return operation_id
        return "-"


class MonitorCollector:
    """Read at each scrape: every monitor's newest data point."""

    def collect(self):
        status = GaugeMetricFamily(
            "kener_monitor_status",
            "Status of the monitor's newest data point: 1 up, 0 down, 2 degraded",
            labels=["tag"],
        )
        age = GaugeMetricFamily(
            "kener_monitor_last_point_age_seconds",
            "Seconds since the minute of the monitor's newest data point",
            labels=["tag"],
        )
        now = storage.catalog.now()
        for tag, (value, minute) in storage.newest_points().items():
            status.add_metric([tag], STATUS_VALUES[value])
            age.add_metric([tag], max(0, now - minute))
        yield status
        yield age


class Metrics:
    def __init__(self, spec: dict) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.operations = Operations(spec)
        self.requests = Counter(
            "kener_requests",
            "Requests answered, by operationId and status code",
            ["operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kener_request_duration_seconds",
            "Time to answer a request, by operationId",
            ["operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "kener_requests_in_flight", "Requests being answered", registry=self.registry
        )
        self.database_errors = Counter(
            "kener_database_errors",
            "Requests that failed on a database error (answered 500)",
            registry=self.registry,
        )
        self.registry.register(MonitorCollector())
        # Each series's child, found once: `labels()` takes a lock and builds a key per call.
        # Bounded: operations are the contract's, statuses the few the server sends.
        self._series: dict[tuple[str, int], tuple] = {}

    def series(self, operation: str, status: int) -> tuple:
        """The latency histogram and the request counter of one operation and status."""
        found = self._series.get((operation, status))
        if found is None:
            found = self._series[(operation, status)] = (
                self.latency.labels(operation),
                self.requests.labels(operation, str(status)),
            )
        return found

    def response(self) -> ConnexionResponse:
        """The registry in the text format generate_latest writes (`text/plain` with its
        version, which Prometheus reads)."""
        return ConnexionResponse(
            status_code=200,
            body=generate_latest(self.registry),
            content_type=CONTENT_TYPE,
            mimetype="text/plain",
            headers={"Cache-Control": "no-store"},
        )


_current: dict[str, Metrics] = {}


def configure(spec: dict) -> Metrics:
    _current["metrics"] = Metrics(spec)
    return _current["metrics"]


def current() -> Metrics:
    return _current["metrics"]


class Requests:
    """Count every request, its status and its time, by operationId."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        operation = metrics.operations.of(scope["method"], scope["path"])
        answered = {"status": 500}

        async def recording_send(message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        started = time.perf_counter()
        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            metrics.in_flight.dec()
            latency, count = metrics.series(operation, answered["status"])
            latency.observe(time.perf_counter() - started)
            count.inc()
