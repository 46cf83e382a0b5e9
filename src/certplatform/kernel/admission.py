"""Admission control: past its capacity a process answers 503 at once instead of queueing.

Offered more than it can serve, a server that queues everything answers nothing in time:
every request waits behind the backlog and the clients give up before their answers come
(goodput fell to ~1 % at 1,000 saves/s offered). Here at most `limit` requests of a process
run at once. A request that finds them all busy may wait in a short queue (at most `queue`
requests, each at most `wait` seconds: enough to smooth a burst); when the queue is full it
gets 503 with `Retry-After` at once, so the excess costs next to nothing and its clients
(the exam page's retry queue keeps the answer) come back after the burst. Health and
metrics are never turned away.
"""

from __future__ import annotations

import asyncio
import json

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from certplatform.kernel.telemetry import REGISTRY

EXEMPT = ("/healthz", "/readyz", "/metrics")
REJECTED = Counter(
    "http_admission_rejected_total",
    "Requests answered 503 because the process was at capacity",
    registry=REGISTRY,
)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being served", registry=REGISTRY)
WAITING = Gauge(
    "http_admission_waiting", "Requests queued for a slot (queue depth)", registry=REGISTRY
)
_BODY = json.dumps(
    {
        "error": {
            "code": "unavailable",
            "message": "The server is busy; your request was not processed. Retry shortly.",
        }
    }
).encode()


class AdmissionControl:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        wait: float,
        queue: int | None = None,
        retry_after: int = 1,
    ) -> None:
        self.app = app
        self.limit = limit
        self.wait = wait
        self.queue = limit if queue is None else queue
        self.retry_after = retry_after
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None
        self._waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slots = self._slots
        if slots is None or scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        if slots.locked():
            if self._waiting >= self.queue:
                REJECTED.inc()
                await self._reject(send)
                return
            self._waiting += 1
            WAITING.inc()
            try:
                await asyncio.wait_for(slots.acquire(), timeout=self.wait)
            except TimeoutError:
                REJECTED.inc()
                await self._reject(send)
                return
            finally:
                self._waiting -= 1
                WAITING.dec()
        else:
            await slots.acquire()
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            IN_FLIGHT.dec()
            slots.release()

    async def _reject(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_BODY)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})
