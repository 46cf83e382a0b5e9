"""What the metrics middleware costs one request: the same trivial ASGI app called directly,
bare and wrapped, N times in one event loop (no network, no server), as the lean save route
is called from inside it.

    python -m bench metrics_overhead
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from certplatform.kernel.telemetry import LATENCY, REQUESTS, MetricsMiddleware

N = 200_000
ROUTE = type("Route", (), {"path": "/api/v1/attempts/{attempt_id}/answers/{position}"})


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


class Uncached:
    """The middleware as it was before the children cache: labels() on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
            REQUESTS.labels(scope["method"], route, str(status)).inc()


async def per_request(app: ASGIApp) -> float:
    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(N):
        await app({"type": "http", "method": "PUT", "path": "/x"}, receive, send)
    return (time.perf_counter() - start) / N


def main() -> None:
    bare = min(asyncio.run(per_request(endpoint)) for _ in range(3))
    for name, app in (("uncached", Uncached(endpoint)), ("cached", MetricsMiddleware(endpoint))):
        wrapped = min(asyncio.run(per_request(app)) for _ in range(3))
        print(
            f"{name}: {wrapped * 1e6:.2f} µs/request wrapped, {bare * 1e6:.2f} bare: "
            f"the middleware costs {(wrapped - bare) * 1e6:.2f} µs",
            flush=True,
        )


if __name__ == "__main__":
    main()
