"""Prometheus metrics: the service's one set of counters, served at /metrics.

Each app has a registry of its own (tests build many apps in one process).
Under gunicorn every worker writes its values to files in one directory
(prometheus-client's multiprocess mode, switched on by gunicorn_conf for the
workers it forks); /metrics sums them, so any worker answers with the totals,
and a dead worker's counts stay.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from entrypoints.http.route_labels import route_of

# Fine steps below 10 ms: a cached read takes well under one.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
           0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self._multiprocess_dir = multiprocess_dir
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "http_request_duration_seconds", "Time from routing to the response.",
            ["route", "method"], buckets=BUCKETS, registry=registry,
        )  # fmt: skip
        self.cache = Counter(
            "cache_requests", "Response-cache lookups, by hit or miss.",
            ["result"], registry=registry,
        )  # fmt: skip
        self.rejections = Counter(
            "rate_limit_rejections", "Requests refused with 429, by group.",
            ["group"], registry=registry,
        )  # fmt: skip
        self.backend_errors = Counter(
            "backend_errors", "Calls to a backend that failed, by backend and "
            "kind (timeout, connection, or an error reply's code such as moved).",
            ["backend", "kind"], registry=registry,
        )  # fmt: skip
        self.breaker_open = Gauge(
            "redis_breaker_open", "1 while the Redis circuit breaker is open.",
            registry=registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.lookups_refused = Counter(
            "auth_lookups_refused", "Requests refused (429) because their address "
            "used up its allowance of API-key lookups.", registry=registry,
        )  # fmt: skip
        self.log_dropped = Counter(
            "log_records_dropped", "Log lines dropped because the log's reader "
            "stalled and the queue before it was full.", registry=registry,
        )  # fmt: skip
        self.feed = Counter(
            "change_feed_changes", "Changes the background upkeep handled: swept "
            "(their cache invalidation made sure of) or pruned (past retention).",
            ["task"], registry=registry,
        )  # fmt: skip
        self.db_connections = Gauge(
            "db_pool_connections", "Database connections held by the pool, by state.",
            ["state"], registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip

    def count(self, name: str, label: str) -> None:
        """Count one cache result ("cache") or one 429 ("rate_limit_rejections")."""
        self._child(self.cache if name == "cache" else self.rejections, label).inc()

    def request_done(
        self, route: str, method: str, status: int, seconds: float
    ) -> None:
        self._child(self.requests, route, method, str(status)).inc()
        self._child(self.duration, route, method).observe(seconds)

    def _child(self, metric: Any, *labels: str) -> Any:
        """metric.labels(*labels), remembered: labels() costs more than inc()."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def groups_known(self, groups: Iterable[str]) -> None:
        """Every counter whose labels are known up front, at 0 from the start:
        a family with no sample yet is "no data" to a dashboard or an alert."""
        for group in groups:
            self._child(self.rejections, group)
        for result in ("hit", "miss"):
            self._child(self.cache, result)
        for task in ("sweep", "prune"):
            self._child(self.feed, task)

    def feed_handled(self, task: str, count: int) -> None:
        self._child(self.feed, task).inc(count)

    # The BackendObserver the adapters report to.
    def failures_expected(self, backend: str, kinds: Sequence[str]) -> None:
        for kind in kinds:
            self._child(self.backend_errors, backend, kind)

    def backend_failed(self, backend: str, kind: str) -> None:
        self._child(self.backend_errors, backend, kind).inc()

    def breaker_changed(self, backend: str, is_open: bool) -> None:
        self.breaker_open.set(int(is_open))

    def lookup_refused(self) -> None:
        self.lookups_refused.inc()

    def log_record_dropped(self) -> None:
        self.log_dropped.inc()

    def pool_changed(self, in_use: int, idle: int) -> None:
        self._child(self.db_connections, "in_use").set(in_use)
        self._child(self.db_connections, "idle").set(idle)

    def get(self, name: str, label: str) -> int:
        """A counter's current value in this process (for tests and checks)."""
        sample, key = {
            "cache": ("cache_requests_total", "result"),
            "rate_limit_rejections": ("rate_limit_rejections_total", "group"),
        }[name]
        value = self.registry.get_sample_value(sample, {key: label})
        return int(value or 0)

    def exposition(self) -> bytes:
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)
        return generate_latest(merged)


class RequestMetrics:
    """Middleware: one count and one duration per request, by route template
    (never the raw path: its values are unbounded)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        route = route_of(req)
        method = req.method if req.method in METHODS else "OTHER"
        # A request Falcon refused before any middleware ran has no start time.
        elapsed = time.perf_counter() - getattr(
            req.context, "started", time.perf_counter()
        )
        req.context.duration_ms = elapsed * 1000
        self._metrics.request_done(route, method, resp.status_code, elapsed)


class MetricsResource:
    """GET /metrics in the Prometheus text format; needs no key."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self._metrics.exposition()
        resp.content_type = CONTENT_TYPE_LATEST

    on_head = on_get  # Falcon sends HEAD responses without their body
