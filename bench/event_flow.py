"""Events through outbox → bus → handlers: the in-process relay, and outbox → NATS
JetStream → worker (ADR 0021).

Handlers are the real audit handler (hash-chained log) plus a probe that notes each event's
lag: handled time minus the time its writer recorded it. Figures:

- `inprocess_relay_rate`: a backlog of EVENTS drained by the embedded relay (events/s).
- `nats_rate`: the same backlog through the relay's JetStream publisher (this process, as
  an app process publishes) and `certplatform worker` (its own process, as deployed),
  end to end (events/s).
- `nats_lag_p50/p95`: events written at TARGET_RATE for a few seconds while the relay (at
  its default interval) and the worker run; lag from the write to the audit handler's
  claim in the worker's handling transaction (ms).

NATS: BENCH_NATS_URL, else a private nats-server with JetStream started here (the
machine's binary), so that the shared server's streams stay untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import nats
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import BACKENDS, fresh_database, report, summary
from certplatform.audit.handlers import subscribe as subscribe_audit
from certplatform.audit.models import AuditEntry
from certplatform.kernel.db import Database
from certplatform.kernel.events import (
    Event,
    EventBus,
    OutboxEvent,
    ProcessedEvent,
    record_event,
    relay_forever,
    relay_pending,
)
from certplatform.kernel.jetstream import Delivery, JetStream, durable_name, stream_name
from certplatform.kernel.logging import configure_logging
from certplatform.kernel.settings import Settings

EVENTS = 10_000
TARGET_RATE = 2_000  # events/s written during the lag run
LAG_SECONDS = 5
WRITE_BATCH = 20  # events per writer transaction
TOPIC = "certplatform.learning.attempt.integrity.v1"
AUDIT_HANDLER = "certplatform.audit.handlers.subscribe.handler"


class Probe:
    def __init__(self) -> None:
        self.lags: dict[str, float] = {}

    async def __call__(self, session: AsyncSession, event: Event) -> None:
        now = datetime.now(UTC)
        self.lags.setdefault(event.id, (now - event.created_at).total_seconds() * 1000)


def make_bus(probe: Probe) -> EventBus:
    bus = EventBus()
    subscribe_audit(bus)
    bus.subscribe(TOPIC, probe, name="bench.probe")
    return bus


async def write(db: Database, count: int, start: int = 0) -> None:
    for first in range(start, start + count, WRITE_BATCH):
        async with db.transaction() as uow:
            for n in range(first, min(first + WRITE_BATCH, start + count)):
                payload = {"attempt_id": f"a{n % 500}", "user_id": f"u{n % 500}", "kind": "blur"}
                record_event(uow.session, TOPIC, payload)


async def audited(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count(AuditEntry.seq)))).scalar_one())


async def until_audited(db: Database, total: int, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while await audited(db) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await audited(db)} of {total} handled")
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    if url := os.environ.get("BENCH_NATS_URL"):
        yield url
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = tempfile.mkdtemp(prefix="bench-nats-")
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    command = [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(store, ignore_errors=True)


@contextlib.asynccontextmanager
async def running(*coroutines: object) -> AsyncIterator[None]:
    tasks = [asyncio.ensure_future(c) for c in coroutines]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def inprocess(backend: str) -> None:
    db = Database(await fresh_database(backend, "events_inprocess"))
    bus = make_bus(Probe())
    await write(db, EVENTS)
    start = time.perf_counter()
    async with db.sessions() as session:
        while await relay_pending(session, bus) > 0:
            pass
    elapsed = time.perf_counter() - start
    assert await audited(db) == EVENTS
    report("event_flow", "inprocess_relay_rate", EVENTS / elapsed, "events/s", backend)
    await db.dispose()


def start_worker(database_url: str, nats_url: str) -> subprocess.Popen[bytes]:
    """`certplatform worker` in its own process, as deployed: it consumes and handles."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "EVENT_RELAY_INTERVAL": "0",  # this process's relay publishes (an app process's role)
        "SWEEPER_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "LEAN_SAVE": "false",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "certplatform.cli", "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def until_consuming(url: str) -> None:
    nc = await nats.connect(url)
    try:
        for _ in range(600):
            with contextlib.suppress(Exception):
                await nc.jetstream().consumer_info(stream_name("learning"), durable_name(0))
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the worker did not subscribe")
    finally:
        await nc.close()


async def lags_ms(db: Database, since: datetime) -> list[float]:
    """Write → handled per event: the audit handler's claim time minus the outbox time."""
    query = (
        select(OutboxEvent.created_at, ProcessedEvent.processed_at)
        .join(ProcessedEvent, ProcessedEvent.event_id == OutboxEvent.id)
        .where(ProcessedEvent.handler == AUDIT_HANDLER, OutboxEvent.created_at >= since)
    )
    async with db.sessions() as session:
        rows = (await session.execute(query)).all()
    return [(done - made).total_seconds() * 1000 for made, done in rows]


async def through_nats(backend: str, url: str) -> None:
    database_url = await fresh_database(backend, "events_nats")
    db = Database(database_url)
    bus = make_bus(Probe())
    # The publisher's partitions as the worker's (both read NATS_PARTITIONS).
    relay = JetStream(url, Delivery(partitions=Settings().nats_partitions))
    interval = Settings().event_relay_interval
    label = f"{backend}+nats"
    worker = start_worker(database_url, url)
    try:
        await until_consuming(url)
        # Throughput: a backlog through the publisher, the broker and the worker.
        await write(db, EVENTS)
        start = time.perf_counter()
        publishing = relay_forever(
            db.sessions, bus, interval=interval, publish=relay.publish_pending
        )
        async with running(publishing):
            await until_audited(db, EVENTS)
        elapsed = time.perf_counter() - start
        report("event_flow", "nats_rate", EVENTS / elapsed, "events/s", label)

        # Lag: events written at TARGET_RATE while the relay (default interval) and the
        # worker run.
        total = TARGET_RATE * LAG_SECONDS
        since = datetime.now(UTC)
        publishing = relay_forever(
            db.sessions, bus, interval=interval, publish=relay.publish_pending
        )
        async with running(publishing):
            begin = time.perf_counter()
            for tick in range(total // WRITE_BATCH):
                await write(db, WRITE_BATCH, EVENTS + tick * WRITE_BATCH)
                ahead = begin + (tick + 1) * WRITE_BATCH / TARGET_RATE - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            written = time.perf_counter() - begin
            await until_audited(db, EVENTS + total)
        stats = summary(await lags_ms(db, since))
        report("event_flow", "nats_lag_write_rate", total / written, "events/s", label)
        report("event_flow", "nats_lag_p50", stats["p50"], "ms", label)
        report("event_flow", "nats_lag_p95", stats["p95"], "ms", label)
    finally:
        worker.terminate()
        worker.wait(30)
        await relay.close()
        await db.dispose()


async def run() -> None:
    with nats_server() as url:
        for backend in BACKENDS:
            await inprocess(backend)
            await through_nats(backend, url)


def main() -> None:
    configure_logging("WARNING", json=False)
    print(f"load average {os.getloadavg()}", flush=True)
    asyncio.run(run())
    print(f"load average {os.getloadavg()}", flush=True)
