"""Prometheus metrics, served at /metrics: the HTTP edge, the exam flow, the outbox and jobs.

All metric names live here, so that the dashboards and alert rules of infra/observe/ have one
place to be checked against (tests/deploy/test_observe.py does).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
# process_resident_memory_bytes, CPU seconds, open files: the memory alert reads them.
ProcessCollector(registry=REGISTRY)
REQUESTS = Counter(
    "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ATTEMPTS_STARTED = Counter(
    "exam_attempts_started_total", "Exam attempts started", registry=REGISTRY
)
ATTEMPTS_SUBMITTED = Counter(
    "exam_attempts_submitted_total",
    "Exam attempts submitted and graded (by: learner or deadline)",
    ["by"],
    registry=REGISTRY,
)
GRADING = Histogram(
    "exam_grading_duration_seconds",
    "Grading one submitted attempt: scores, result, answer records",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
JOBS = Histogram(
    "job_duration_seconds",
    "Background job runs (taskiq) by task and outcome",
    ["task", "outcome"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
)
OUTBOX_LAG = Histogram(
    "outbox_event_lag_seconds",
    "From an event's write to its relay (handlers done)",
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300),
)
OUTBOX_PENDING = Gauge(
    "outbox_pending_events", "Unpublished outbox events, at the last relay cycle", registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox event, at the last relay cycle",
    registry=REGISTRY,
)

_Children = tuple[Any, Any]
# Any token is a valid HTTP method: others are counted as "other", keeping the labels bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Counts and times requests by route template (bounded label cardinality).

    The labelled children are cached per (method, route, status): `labels()` costs a lock and
    a tuple key per call, which a save path at thousands of requests/s need not pay twice.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], _Children] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "other"
            key = (method, route, status)
            children = self._children.get(key)
            if children is None:
                children = (
                    LATENCY.labels(method, route),
                    REQUESTS.labels(method, route, str(status)),
                )
                self._children[key] = children
            children[0].observe(elapsed)
            children[1].inc()
