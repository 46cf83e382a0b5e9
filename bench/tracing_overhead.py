"""What tracing costs a request: the whole app (every middleware, the router) serving a cheap
route, `GET /api/v1/me` without a token (routing, the permission check and the JSON 401, no
database; the health routes are not traced), called directly N times in one event loop (no
network), with tracing
off and on. On, each request makes a server span that the batch processor exports over
OTLP/HTTP to a real receiver in this process (tests/support/otlp.py); a round ends when every
span has been exported (the queue is made large enough that none is dropped), so the figure
holds the export's serialisation too, and the receiver's decoding, which runs beside the app
as a collector's would not: an upper bound. `span_only` is the same with a processor that
exports nothing: what making the span costs.

    python -m bench tracing_overhead
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench.common import fresh_database, report
from certplatform.app import create_app
from certplatform.kernel import tracing
from certplatform.kernel.settings import Settings
from certplatform.kernel.tracing import flush_tracing
from tests.support.otlp import OtlpReceiver

N = int(os.environ.get("BENCH_TRACING_REQUESTS", "5000"))
# Room for a whole round: the default queue (2048) drops spans past it, and a dropped span
# costs less than an exported one.
os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", str(2 * N))
ROUNDS = 3


async def per_second(app: FastAPI) -> float:
    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    scope_base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/me",
        "raw_path": b"/api/v1/me",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
        "app": app,
    }
    start = time.perf_counter()
    for _ in range(N):
        await app(dict(scope_base), receive, send)
    return N / (time.perf_counter() - start)


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def rate_with_export(app: FastAPI) -> float:
    start = time.perf_counter()
    await per_second(app)
    flush_tracing()  # the round's spans all sent: their export is part of the cost
    return N / (time.perf_counter() - start)


async def measure(settings: Settings, *, span_only: bool = False) -> float:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if span_only:  # the same spans and batches, handed to an exporter that sends nothing
            tracing.configure_tracing(settings.otel_exporter_otlp_endpoint, "bench", Discard())
        await rate_with_export(app)  # warm up: first-request caches, the exporter's connection
        return max([await rate_with_export(app) for _ in range(ROUNDS)])


async def run() -> None:
    url = await fresh_database("sqlite", "tracing_overhead")
    base = Settings(
        DATABASE_URL=url,
        APP_ENV="test",
        LOG_LEVEL="WARNING",
        EVENT_RELAY_INTERVAL=0,
        SWEEPER_INTERVAL=0,
        CLEANUP_INTERVAL=0,
        AUDIT_CHECKPOINT_INTERVAL=0,
    )
    receiver = OtlpReceiver().start()
    try:
        off = await measure(base)
        traced = base.model_copy(update={"otel_exporter_otlp_endpoint": receiver.endpoint})
        on = await measure(traced)
        made = N * (ROUNDS + 1)
        span_only = await measure(traced, span_only=True)
    finally:
        receiver.stop()
    report("tracing_overhead", "requests_per_s_tracing_off", off, "req/s", "sqlite")
    report("tracing_overhead", "requests_per_s_tracing_on", on, "req/s", "sqlite")
    report("tracing_overhead", "cost_per_request", (1 / on - 1 / off) * 1e6, "µs", "sqlite")
    span_cost = (1 / span_only - 1 / off) * 1e6
    report("tracing_overhead", "span_only_cost_per_request", span_cost, "µs", "sqlite")
    report(
        "tracing_overhead", "spans_exported_share", 100 * len(receiver.spans) / made, "%", "sqlite"
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
