"""What tracing costs a request: the whole app (every middleware, the router) serving a cheap
route, `GET /healthz`, called directly N times in one event loop (no network), with tracing
off and on. On, each request makes a server span that the batch processor exports over
OTLP/HTTP to a real receiver in this process (tests/support/otlp.py), whose decoding runs
beside the app as a collector's would not: an upper bound.

    python -m bench tracing_overhead
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fastapi import FastAPI

from bench.common import fresh_database, report
from certplatform.app import create_app
from certplatform.kernel.settings import Settings
from tests.support.otlp import OtlpReceiver

N = int(os.environ.get("BENCH_TRACING_REQUESTS", "5000"))
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
        "path": "/healthz",
        "raw_path": b"/healthz",
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


async def measure(settings: Settings) -> float:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await per_second(app)  # warm up: first-request caches, the exporter's connection
        return max([await per_second(app) for _ in range(ROUNDS)])


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
        on = await measure(traced)  # the lifespan's end flushes what is queued
    finally:
        receiver.stop()
    made = N * (ROUNDS + 1)
    report("tracing_overhead", "requests_per_s_tracing_off", off, "req/s", "sqlite")
    report("tracing_overhead", "requests_per_s_tracing_on", on, "req/s", "sqlite")
    report("tracing_overhead", "cost_per_request", (1 / on - 1 / off) * 1e6, "µs", "sqlite")
    report(
        "tracing_overhead", "spans_exported_share", 100 * len(receiver.spans) / made, "%", "sqlite"
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
