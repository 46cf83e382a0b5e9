"""Admission control: past its capacity a process answers 503 with Retry-After at once."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from certplatform.kernel.admission import AdmissionControl


class Held:
    """A downstream app whose requests finish only when released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self.arrived: asyncio.Queue[str] = asyncio.Queue()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started += 1
        self.arrived.put_nowait(scope["path"])
        if scope["path"] != "/healthz":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def test_requests_past_the_limit_are_turned_away_and_served_again_after() -> None:
    held = Held()
    app = AdmissionControl(held, limit=2, wait=0.05)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        running = [asyncio.create_task(client.get(f"/work/{n}")) for n in range(2)]
        for _ in range(2):
            await held.arrived.get()
        busy = await client.get("/work/3")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "unavailable"
        assert held.started == 2  # the turned-away request never reached the app
        assert (await client.get("/healthz")).status_code == 200  # health is never refused

        held.release.set()
        assert [r.status_code for r in await asyncio.gather(*running)] == [200, 200]
        assert (await client.get("/work/4")).status_code == 200


async def test_a_short_wait_for_a_slot_is_served() -> None:
    held = Held()
    app = AdmissionControl(held, limit=1, wait=5.0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        first = asyncio.create_task(client.get("/a"))
        await held.arrived.get()
        second = asyncio.create_task(client.get("/b"))
        await asyncio.sleep(0.05)
        held.release.set()
        assert (await first).status_code == 200
        assert (await second).status_code == 200


async def test_past_a_full_queue_the_excess_is_turned_away_without_waiting() -> None:
    held = Held()
    app = AdmissionControl(held, limit=1, wait=30.0, queue=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        first = asyncio.create_task(client.get("/a"))
        await held.arrived.get()
        queued = asyncio.create_task(client.get("/b"))
        await asyncio.sleep(0.05)  # /b is now waiting for the slot
        # The queue is full: this one is refused at once, not after the 30 s wait.
        refused = await asyncio.wait_for(client.get("/c"), timeout=5)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert not queued.done()
        held.release.set()
        assert (await first).status_code == 200
        assert (await queued).status_code == 200
        assert held.started == 2
