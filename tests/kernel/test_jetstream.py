"""Events through a real NATS JetStream (a private nats-server per test; see tests/support/nats).

The fault test stops that broker while learners save and submit, and starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import nats
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.app import create_app, relay_events
from certplatform.audit.handlers import RULES
from certplatform.audit.models import AuditEntry
from certplatform.kernel.db import Database
from certplatform.kernel.events import (
    Event,
    EventBus,
    OutboxEvent,
    ProcessedEvent,
    record_event,
    relay_pending,
)
from certplatform.kernel.jetstream import (
    Delivery,
    JetStream,
    PublishIncomplete,
    durable_name,
    subject_of,
)
from certplatform.kernel.settings import Settings
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.exams import blueprint_id, keys_of, load, save
from tests.support.nats import NatsServer

TOPIC = "certplatform.learning.attempt.integrity.v1"


@pytest.fixture
def broker(tmp_path: Path) -> NatsServer:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()  # always: a test that stopped it has started it again


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def consuming(transport: JetStream, db: Database, bus: EventBus) -> AsyncIterator[None]:
    task = asyncio.create_task(transport.consume_forever(db.sessions, bus))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def count(db: Database, query: object) -> int:
    async with db.sessions() as session:
        return int((await session.execute(query)).scalar_one())  # type: ignore[call-overload]


async def write_events(db: Database, payloads: list[dict[str, object]]) -> list[Event]:
    async with db.transaction() as uow:
        return [record_event(uow.session, TOPIC, payload) for payload in payloads]


async def test_each_event_is_handled_once_in_order_per_key_and_dead_lettered_after_n(
    db: Database, broker: NatsServer
) -> None:
    seen: list[str] = []
    failures = {"first": 1, "poison": 99}  # how many times each still fails

    async def handler(session: AsyncSession, event: Event) -> None:
        label = str(event.payload["label"])
        if failures.get(label, 0) > 0:
            failures[label] -= 1
            raise RuntimeError(f"{label} fails")
        seen.append(label)

    bus = EventBus()
    bus.subscribe(TOPIC, handler, name="test.order")
    transport = JetStream(broker.url, Delivery(max_deliver=3, backoff=(0.3,)))
    events = await write_events(
        db,
        [
            {"attempt_id": "a1", "label": "first"},  # fails once, then succeeds
            {"attempt_id": "a1", "label": "second"},  # must wait behind "first"
            {"attempt_id": "a2", "label": "other"},  # another attempt: not held back
            {"attempt_id": "a3", "label": "poison"},  # never succeeds: dead letter
        ],
    )
    async with db.sessions() as session:
        assert await transport.publish_pending(session) == 4
    assert await count(db, select(func.count()).where(OutboxEvent.published_at.is_(None))) == 0

    nc = await nats.connect(broker.url)
    dead = await nc.subscribe("certplatform.dead.>")
    async with consuming(transport, db, bus):
        await until(lambda: _async({"first", "second", "other"} <= set(seen)))
        letter = await dead.next_msg(timeout=10)
    # (A batch with a failure runs its other events again in a fresh transaction: the
    # list sees those runs, the database keeps only the committed one.)
    assert seen.index("first") < seen.index("second")
    assert letter.subject == "certplatform.dead.learning.attempt.integrity.v1"
    assert json.loads(letter.data)["payload"]["label"] == "poison"
    assert letter.headers is not None
    assert letter.headers["Certplatform-Deliveries"] == "3"
    assert "poison fails" in letter.headers["Certplatform-Error"]
    handled = select(func.count()).select_from(ProcessedEvent)
    assert await count(db, handled) == 3

    await asyncio.sleep(1.5)  # the stopped consumer's last pull request expires (1 s)
    # The same events published again (a relay that lost its marks): JetStream drops
    # repeats of a Nats-Msg-Id; the same event under a new message id is skipped by the
    # processed-event table. Either way no handler runs twice.
    async with db.transaction() as uow:
        await uow.session.execute(update(OutboxEvent).values(published_at=None))
    async with db.sessions() as session:
        assert await transport.publish_pending(session) == 4
    info = await nc.jetstream().stream_info("CERTPLATFORM_LEARNING")
    assert info.state.messages == 4
    again = events[2]
    await nc.jetstream().publish(
        subject_of(TOPIC, "attempt_id:a2", transport.delivery.partitions),
        json.dumps(
            {
                "schema": 1,
                "id": again.id,
                "topic": TOPIC,
                "created_at": again.created_at.isoformat(),
                "key": "attempt_id:a2",
                "payload": again.payload,
            }
        ).encode(),
        headers={"Nats-Msg-Id": "another-message-id"},
    )
    runs = len(seen)
    async with consuming(transport, db, bus):
        await until(lambda: _pending_zero(nc))
    assert len(seen) == runs
    assert await count(db, handled) == 3
    await nc.close()
    await transport.close()


async def test_two_workers_on_the_same_consumers_keep_each_keys_order(
    db: Database, broker: NatsServer
) -> None:
    """Two workers (two connections, as two `certplatform worker` processes would have) pull
    the same durable consumers; events of a key fail and are redelivered on the way. Each
    key's events still run in the order they were written, and both workers take part."""
    keys, per_key = 6, 8
    fails = {(key, 2): 1 for key in range(keys)} | {(key, 5): 2 for key in range(0, keys, 2)}
    runs: list[tuple[int, int, str]] = []

    def handler_of(worker: str) -> Callable[[AsyncSession, Event], Awaitable[None]]:
        async def handler(session: AsyncSession, event: Event) -> None:
            key, n = int(event.payload["k"]), int(event.payload["n"])
            if fails.get((key, n), 0) > 0:
                fails[key, n] -= 1
                raise RuntimeError(f"{key}/{n} fails")
            await asyncio.sleep(random.uniform(0, 0.01))  # let the other worker overtake
            runs.append((key, n, worker))

        return handler

    delivery = Delivery(max_deliver=5, backoff=(0.2,), partitions=4)
    workers = []
    for name in ("one", "two"):
        bus = EventBus()
        bus.subscribe(TOPIC, handler_of(name), name="test.two_workers")
        workers.append((JetStream(broker.url, delivery), bus))
    # Written interleaved: k0 n0, k1 n0, ..., k5 n0, k0 n1, ...
    await write_events(
        db,
        [
            {"attempt_id": f"k{key}", "k": key, "n": n}
            for n in range(per_key)
            for key in range(keys)
        ],
    )
    async with db.sessions() as session:
        assert await workers[0][0].publish_pending(session) == keys * per_key

    async with contextlib.AsyncExitStack() as stack:
        for transport, bus in workers:
            await stack.enter_async_context(consuming(transport, db, bus))
        handled = select(func.count()).select_from(ProcessedEvent)
        await until(lambda: _equals(count(db, handled), keys * per_key), seconds=60)
    # A batch that failed runs its other events again, rolled back: first runs count.
    for key in range(keys):
        order = list(dict.fromkeys(n for k, n, _ in runs if k == key))
        assert order == list(range(per_key)), (key, order)
    assert {worker for _, _, worker in runs} == {"one", "two"}
    assert not any(fails.values())  # every planned failure happened
    for transport, _ in workers:
        await transport.close()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _async(value: bool) -> bool:
    return value


async def _consumers(nc: nats.NATS) -> list[nats.js.api.ConsumerInfo]:
    """The learning stream's consumers, one per partition."""
    js = nc.jetstream()
    return [
        await js.consumer_info("CERTPLATFORM_LEARNING", durable_name(partition))
        for partition in range(Delivery().partitions)
    ]


async def _pending_zero(nc: nats.NATS) -> bool:
    return all(i.num_pending == 0 and i.num_ack_pending == 0 for i in await _consumers(nc))


async def test_without_nats_the_same_handlers_run_in_process_once(db: Database) -> None:
    calls: list[str] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        calls.append(event.id)

    bus = EventBus()
    bus.subscribe(TOPIC, handler, name="test.inprocess")
    events = await write_events(db, [{"attempt_id": "a", "n": n} for n in range(3)])
    async with db.sessions() as session:
        assert await relay_pending(session, bus) == 3
        # A second dispatch of the same event (a relay that crashed before marking it).
        assert await bus.dispatch(session, events[0]) == 0
        await session.commit()
    assert calls == [e.id for e in events]


@pytest_asyncio.fixture
async def nats_app(settings: Settings, broker: NatsServer) -> AsyncIterator[FastAPI]:
    """The platform with NATS_URL set: its relay publishes, its worker consumes."""
    app = create_app(settings.model_copy(update={"nats_url": broker.url}))
    async with app.router.lifespan_context(app):
        yield app


async def test_nats_stopped_while_learners_save_and_submit(
    db: Database, storage: LocalStorage, nats_app: FastAPI, broker: NatsServer
) -> None:
    transport_ = httpx.ASGITransport(app=nats_app)
    async with httpx.AsyncClient(transport=transport_, base_url="http://test") as client:
        await load(db, storage, "US-FCC-TECHNICIAN")
        blueprint = await blueprint_id(db, "US-FCC-TECHNICIAN")
        learners = [await _learner(client, db, n) for n in range(3)]
        assert await relay_events(nats_app) > 0  # sign-ups and logins: NATS is up

        broker.stop()
        try:
            for learner in learners:
                started = await client.post(
                    "/api/v1/attempts", json={"blueprint_id": blueprint}, headers=learner
                )
                assert started.status_code == 201, started.text
                view = started.json()
                keys = await keys_of(db, view)
                for item in view["items"][:5]:
                    position = item["position"]
                    saved = await save(client, learner, view["id"], position, keys[position][0])
                    assert saved.status_code == 200, saved.text
                submitted = await client.post(
                    f"/api/v1/attempts/{view['id']}/submit", headers=learner
                )
                assert submitted.status_code == 200, submitted.text
            # The events wait in the outbox: publishing fails and marks nothing.
            waiting = select(func.count()).where(OutboxEvent.published_at.is_(None))
            pending = await count(db, waiting)
            assert pending >= 6  # 3 started + 3 submitted
            with pytest.raises((PublishIncomplete, OSError, nats.errors.Error, TimeoutError)):
                await relay_events(nats_app)
            assert await count(db, waiting) == pending
        finally:
            if broker.process is None:
                broker.start()

        # NATS is back: the relay publishes everything, the worker handles everything.
        await until(lambda: _relayed_all(nats_app, db))
        worker = nats_app.state.events_transport
        async with consuming(worker, db, nats_app.state.bus):
            await until(lambda: _all_audited(db))
            # Everything published twice more (lost marks): still one effect per event.
            async with db.transaction() as uow:
                await uow.session.execute(update(OutboxEvent).values(published_at=None))
            await until(lambda: _relayed_all(nats_app, db))
            await asyncio.sleep(1.0)
    outbox = await count(db, _AUDITED_EVENTS)
    audited = select(func.count(func.distinct(AuditEntry.event_id)))
    assert await count(db, audited) == outbox
    assert await count(db, select(func.count()).select_from(AuditEntry)) == outbox


async def _relayed_all(app: FastAPI, db: Database) -> bool:
    with contextlib.suppress(Exception):  # the client reconnects in the background
        await relay_events(app)
    waiting = select(func.count()).where(OutboxEvent.published_at.is_(None))
    return await count(db, waiting) == 0


# The events the audit log records (others, such as the analytics ones, go elsewhere).
_AUDITED_EVENTS = select(func.count()).where(OutboxEvent.topic.in_(list(RULES)))


async def _all_audited(db: Database) -> bool:
    outbox = await count(db, _AUDITED_EVENTS)
    return await count(db, select(func.count()).select_from(AuditEntry)) == outbox


async def _learner(client: httpx.AsyncClient, db: Database, n: int) -> dict[str, str]:
    email = await make_user(db, "learner", f"learner{n}@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


async def test_the_worker_process_runs_the_handlers_when_nats_is_on(
    db: Database, settings: Settings, broker: NatsServer
) -> None:
    """`certplatform worker` as its own process: its relay publishes, its consumer handles."""
    events = await write_events(db, [{"attempt_id": f"w{n}", "user_id": "u"} for n in range(20)])
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "NATS_URL": broker.url,
        "APP_ENV": "test",
        "EVENT_RELAY_INTERVAL": "0.2",
        "SWEEPER_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "MEDIA_DIR": str(settings.media_dir),
        "LEAN_SAVE": "false",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "certplatform.cli",
        "worker",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await until(lambda: _all_audited(db), seconds=60)
    finally:
        worker.terminate()
        _, errors = await asyncio.wait_for(worker.communicate(), 30)
    entries = select(func.count()).where(AuditEntry.event_id.in_([e.id for e in events]))
    assert await count(db, entries) == 20, errors.decode()[-2000:]
    nc = await nats.connect(broker.url)
    consumers = await _consumers(nc)
    assert sum(i.delivered.consumer_seq for i in consumers) == 20  # through the broker
    await nc.close()
