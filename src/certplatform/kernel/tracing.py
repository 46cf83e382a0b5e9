"""Traces (OpenTelemetry, OTLP over HTTP) from a request through the outbox and the broker to
the handler, and through the job queue to the job (ADR 0033).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then `tracer()` is None and every helper
here returns at its first line, so an untraced process pays one global read per call site.

On, one trace follows a write:
- a server span per HTTP request, named by the route template (`RequestTrace`);
- the outbox row keeps the W3C `traceparent` of the span that wrote it (`current_traceparent`);
- the relay's publish span is that span's child, and the message carries the publish span's
  `traceparent` (a NATS header; in process, the `Event` itself);
- each handler's span is the child of the publish span; a job's span is the child of the
  span that enqueued it (a taskiq label).
Log lines written inside a span carry its `trace_id` and `span_id` (`add_trace_ids`).

The tracer provider is this module's own, not the OpenTelemetry global one: the global can be
set once per process, and a process (the tests, a CLI) may build and close several apps.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certplatform.kernel.admission import EXEMPT
from certplatform.kernel.telemetry import METHODS

log = structlog.get_logger(__name__)

TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_provider: Any = None  # opentelemetry.sdk.trace.TracerProvider, imported only when on
_tracer: Tracer | None = None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP base endpoint → its traces URL (as the SDK derives it from the variable)."""
    return endpoint.rstrip("/") + "/v1/traces"


def configure_tracing(endpoint: str | None, service_name: str, exporter: Any = None) -> bool:
    """Export spans in batches to `endpoint` (OTLP/HTTP protobuf); None: trace nothing.
    `exporter` (an SDK SpanExporter) replaces the OTLP one (the benchmark's null exporter).

    Returns whether tracing is on. Calling it again replaces the provider (flushing the old)."""
    global _provider, _tracer
    shutdown_tracing()
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based, always on).
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = exporter or OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=5)
    # The batch is sent from the processor's own thread: a slow or absent collector never
    # holds a request up; past the queue's 2048 spans they are dropped, not buffered.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("certplatform")
    return True


def shutdown_tracing() -> None:
    """Flush what is queued (a few seconds at most) and stop tracing."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout_s: float = 30.0) -> bool:
    """Export every span ended so far (benchmarks, tests); False if it timed out."""
    if _provider is None:
        return True
    return bool(_provider.force_flush(int(timeout_s * 1000)))


def tracer() -> Tracer | None:
    return _tracer


# --- context in and out of carriers (HTTP headers, NATS headers, outbox rows, job labels) --


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span; None when tracing is off or no span is open."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    found = _propagator.extract({TRACEPARENT: traceparent})
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def _traceparent_of(span: Span) -> str:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier[TRACEPARENT]


# --- spans of the event flow and of jobs ----------------------------------------------------


def start_publish(
    traceparent: str | None, topic: str, event_id: str, system: str
) -> tuple[Span | None, str | None]:
    """A producer span under the writer's span, and the traceparent the message carries.

    Events written outside any span (tracing off when written) get no span: (None, None)."""
    parent = context_of(traceparent) if _tracer is not None else None
    if _tracer is None or parent is None:
        return None, None
    span = _tracer.start_span(
        f"publish {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": system,
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
        },
    )
    return span, _traceparent_of(span)


def end_publish(span: Span | None, error: BaseException | str | None = None) -> None:
    if span is None:
        return
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
    span.end()


@contextlib.contextmanager
def handling(
    handler: str,
    topics: Sequence[str],
    event_ids: Sequence[str],
    traceparents: Sequence[str | None],
) -> Iterator[None]:
    """A consumer span around one handler's run on its events: the child of the first traced
    message's publish span, linked to the others of a batch. Nothing when none is traced."""
    contexts = [c for c in map(context_of, traceparents) if c is not None] if _tracer else []
    if _tracer is None or not contexts:
        yield
        return
    links = [Link(trace.get_current_span(c).get_span_context()) for c in contexts[1:]]
    attributes: dict[str, Any] = {
        "messaging.operation.type": "process",
        "messaging.batch.message_count": len(event_ids),
        "certplatform.handler": handler,
    }
    if len(set(topics)) == 1:
        attributes["messaging.destination.name"] = topics[0]
    if len(event_ids) == 1:
        attributes["messaging.message.id"] = event_ids[0]
    with _tracer.start_as_current_span(
        f"process {topics[0]}" if len(set(topics)) == 1 else f"process batch {handler}",
        context=contexts[0],
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
    ):
        yield


def start_job(name: str, traceparent: str | None, tries: int) -> tuple[Span, object] | None:
    """A consumer span for a job run, made current until `end_job`: the child of the span
    that enqueued the job, if one did. None when tracing is off."""
    if _tracer is None:
        return None
    span = _tracer.start_span(
        f"job {name}",
        context=context_of(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={"certplatform.job": name, "certplatform.job.tries": tries},
    )
    return span, otel_context.attach(trace.set_span_in_context(span))


def end_job(started: tuple[Span, object], error: BaseException | None) -> None:
    span, token = started
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, repr(error)[:200]))
    span.end()
    otel_context.detach(token)  # type: ignore[arg-type]


# --- log lines ------------------------------------------------------------------------------


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    """structlog processor: the current span's ids on every line written inside one."""
    if _tracer is not None:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            event_dict["trace_id"] = format(span_context.trace_id, "032x")
            event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict


# --- the HTTP edge --------------------------------------------------------------------------


# Health checks and scrapes, every few seconds from every probe: no trace, no log line.
PROBES = frozenset(EXEMPT)


class RequestTrace:
    """A server span per HTTP request named `METHOD /route/{template}`, and, with
    `log_requests`, one JSON log line per request (inside the span: it carries the trace id).

    An incoming `traceparent` header (a tracing proxy in front) makes the span its child."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer_ = _tracer
        if (
            scope["type"] != "http"
            or (tracer_ is None and not self.log_requests)
            or scope["path"] in PROBES
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"] if scope["method"] in METHODS else "_OTHER"
        span_cm: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if tracer_ is not None:
            parent = None
            for name, value in scope["headers"]:
                if name == b"traceparent":
                    parent = context_of(value.decode("latin-1"))
                    break
            span_cm = tracer_.start_as_current_span(
                method,  # named after the route template below, once routed (not the path:
                # a name per raw path, each 404 included, would have no bound)
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": scope["path"]},
                record_exception=True,
                set_status_on_exception=True,
            )
        with span_cm as span:
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if span is not None:
                    if route is not None:
                        span.update_name(f"{method} {route}")
                        span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                if self.log_requests:
                    log.info(
                        "http.request",
                        method=method,
                        route=route or "unmatched",
                        status=status,
                        duration_ms=round((time.perf_counter() - start) * 1000, 2),
                    )
