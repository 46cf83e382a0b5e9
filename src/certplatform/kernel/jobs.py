"""Background jobs on taskiq (ADR 0022): in memory embedded, a Redis stream when `REDIS_URL`
is set, consumed by `certplatform worker`.

- A context declares a job with `@job("context.name")`; the process that runs jobs binds the
  database (`bind_database`) and the broker (`configure`) at start-up, never at import.
- `enqueue_after_commit` sends a job only once the request's transaction has committed, so
  a rolled-back request leaves nothing behind; `enqueue` sends at once (schedules, tools).
- Every message carries an idempotency key; a job does its database effect through
  `run_once`, which records the key in the effect's own transaction. A message delivered
  twice (a worker killed before it acknowledged, a retry racing its original, two
  schedulers) finds the key and does nothing the second time.
- A failed job is retried `retries` times with exponential backoff and jitter: the retry is
  a new message that says when it may run, so it survives the worker that scheduled it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy import String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column
from taskiq import AsyncBroker, InMemoryBroker, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.acks import AckableMessage
from taskiq.kicker import AsyncKicker

from certplatform.kernel.db import Base, Database, UnitOfWork, UTCDateTime, new_id, utcnow
from certplatform.kernel.telemetry import JOBS
from certplatform.kernel.tracing import TRACEPARENT, current_traceparent, end_job, start_job

log = structlog.get_logger(__name__)
T = TypeVar("T")
JobFunction = Callable[..., Awaitable[Any]]

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 300.0


class JobRun(Base):
    """Idempotency keys of job effects that committed (kept a week, then cleaned up)."""

    __tablename__ = "job_runs"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    retries: int


_jobs: dict[str, JobSpec] = {}


class JobMetrics(TaskiqMiddleware):
    """Times every job run (taskiq measures it) by task name and outcome."""

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        outcome = "error" if result.is_err else "ok"
        JOBS.labels(message.task_name, outcome).observe(result.execution_time)


class JobTrace(TaskiqMiddleware):
    """A span per job run, the child of the span that sent the job (its `traceparent`
    label, set when a traced request or job enqueues it). Nothing when tracing is off."""

    def __init__(self) -> None:
        super().__init__()
        self._running: dict[str, tuple[Any, object]] = {}

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        traceparent = current_traceparent()
        if traceparent is not None:
            message.labels.setdefault(TRACEPARENT, traceparent)
        return message

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        tries = int(message.labels.get("tries", 1))
        started = start_job(message.task_name, message.labels.get(TRACEPARENT), tries)
        if started is not None:
            self._running[message.task_id] = started
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        started = self._running.pop(message.task_id, None)
        if started is not None:
            error = result.error if isinstance(result.error, BaseException) else None
            end_job(started, error if result.is_err else None)


_database: Database | None = None


def job(name: str, *, retries: int = 5) -> Callable[[JobFunction], JobFunction]:
    """Declare a job. It is called as `function(key=..., **kwargs)`: `key` is the message's
    idempotency key, for `run_once`."""

    def register(function: JobFunction) -> JobFunction:
        _jobs[name] = JobSpec(name, function, retries)
        if "broker" in globals():  # declared after the broker was built: add it there too
            broker.register_task(function, task_name=name)
        return function

    return register


def bind_database(database: Database | None) -> None:
    global _database
    _database = database


def current_database() -> Database:
    if _database is None:
        raise RuntimeError("no database bound to the job broker")
    return _database


async def run_once(
    db: Database, key: str, job_name: str, effect: Callable[[UnitOfWork], Awaitable[T]]
) -> T | None:
    """Do `effect` and record `key` in one transaction; None, doing nothing, when a run with
    this key already committed. A concurrent run with the same key waits on the key's row
    (PostgreSQL) or the write lock (SQLite) and then finds it."""
    async with db.transaction() as uow:
        dialect = uow.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        claimed = await uow.session.execute(
            insert(JobRun)
            .values(key=key, job=job_name, done_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        if getattr(claimed, "rowcount", 0) == 0:
            log.info("job.already_done", job=job_name, key=key)
            return None
        return await effect(uow)


async def forget_old_runs(db: Database, keep_days: float = 7.0) -> int:
    async with db.transaction() as uow:
        cutoff = utcnow() - timedelta(days=keep_days)
        result = await uow.session.execute(delete(JobRun).where(JobRun.done_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class Backoff(TaskiqMiddleware):
    """Retry a failed job after BACKOFF_BASE_S·2ⁿ seconds (capped, ±25 % jitter).

    The retry goes out at once, labelled with the time it may run; whichever worker takes it
    waits until then. So a worker that dies meanwhile loses nothing."""

    async def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        wait = float(message.labels.get("run_after", 0)) - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return message

    async def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        spec = _jobs.get(message.task_name)
        tries = int(message.labels.get("tries", 1))
        if spec is None or tries > spec.retries:
            log.error("job.gave_up", job=message.task_name, tries=tries, error=repr(exception))
            return
        delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (tries - 1))
        delay *= 0.75 + random.random() / 2  # noqa: S311 - jitter, not secrecy
        log.warning("job.retry", job=message.task_name, tries=tries, in_s=round(delay, 2))
        labels = {**message.labels, "tries": tries + 1, "run_after": time.time() + delay}
        kicker: AsyncKicker[Any, Any] = AsyncKicker(
            task_name=message.task_name, broker=self.broker, labels=labels
        )
        await kicker.kiq(*message.args, **message.kwargs)


def _redis_broker(url: str, queue: str, redeliver_after_s: float) -> AsyncBroker:
    from redis.asyncio import Redis
    from taskiq_redis import RedisStreamBroker

    from certplatform.kernel.redis import UNAVAILABLE

    class ReclaimingStreamBroker(RedisStreamBroker):
        """taskiq-redis's stream broker, but a message a dead worker took and never
        acknowledged is claimed again even while no new message arrives."""

        async def startup(self) -> None:
            try:
                await super().startup()
            except UNAVAILABLE as exc:  # serving processes start without Redis, degraded
                log.warning("jobs.redis_unavailable", error=str(exc))

        async def listen(self) -> AsyncGenerator[AckableMessage, None]:
            down = False
            while True:
                try:
                    # Declared each time round: Redis may have come back empty.
                    await self._declare_consumer_group()
                    if down:
                        log.info("jobs.redis_recovered")
                        down = False
                    async for message in self._poll():
                        yield message
                except UNAVAILABLE as exc:
                    if not down:
                        log.warning("jobs.redis_unavailable", error=str(exc))
                    down = True
                    await asyncio.sleep(1.0)
                    continue

        async def _poll(self) -> AsyncGenerator[AckableMessage, None]:
            async with Redis(connection_pool=self.connection_pool) as conn:
                while True:
                    fetched: Any = await conn.xreadgroup(
                        self.consumer_group_name,
                        self.consumer_name,
                        {self.queue_name: ">"},
                        block=self.block,
                        count=self.count,
                    )
                    for _stream, entries in fetched or []:
                        for message_id, fields in entries:
                            yield self._message(message_id, fields)
                    claimed = await conn.xautoclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        min_idle_time=self.idle_timeout,
                        count=self.unacknowledged_batch_size,
                    )
                    for message_id, fields in claimed[1]:
                        if fields:  # None for an entry trimmed from the stream meanwhile
                            log.warning("job.redelivered", message=str(message_id))
                            yield self._message(message_id, fields)

        def _message(self, message_id: Any, fields: Any) -> AckableMessage:
            return AckableMessage(
                data=fields[b"data"],
                ack=self._ack_generator(id=message_id, queue_name=self.queue_name),
            )

    return ReclaimingStreamBroker(
        url,
        queue_name=queue,
        consumer_group_name=queue + ":workers",
        consumer_id="0",  # a group made after the first message still gets it
        idle_timeout=int(redeliver_after_s * 1000),
        xread_block=1000,
    )


def _build(broker: AsyncBroker) -> AsyncBroker:
    broker.add_middlewares(Backoff(), JobMetrics(), JobTrace())
    for spec in _jobs.values():
        broker.register_task(spec.function, task_name=spec.name)
    return broker


broker: AsyncBroker = _build(InMemoryBroker())


def configure(redis_url: str | None, prefix: str, redeliver_after_s: float = 300.0) -> AsyncBroker:
    """The broker of this process: a Redis stream when `redis_url` is set, else in memory.

    `redeliver_after_s` must exceed the longest job: a message unacknowledged for longer is
    taken by another worker (and `run_once` keeps its effect single)."""
    global broker
    broker = _build(
        _redis_broker(redis_url, prefix + "jobs", redeliver_after_s)
        if redis_url
        else InMemoryBroker()
    )
    return broker


def on_redis() -> bool:
    return not isinstance(broker, InMemoryBroker)


async def enqueue(name: str, key: str | None = None, /, **kwargs: Any) -> str:
    """Send job `name` now; returns its idempotency key (a new one unless given)."""
    if name not in _jobs:
        raise LookupError(f"no job named {name!r}")
    key = key or f"{name}:{new_id()}"
    kicker: AsyncKicker[Any, Any] = AsyncKicker(task_name=name, broker=broker, labels={})
    await kicker.kiq(key=key, **kwargs)
    return key


def enqueue_after_commit(
    uow: UnitOfWork, name: str, key: str | None = None, /, **kwargs: Any
) -> str:
    """Send job `name` once `uow` commits (never when it rolls back); returns its key."""
    key = key or f"{name}:{new_id()}"

    async def send() -> None:
        try:
            await enqueue(name, key, **kwargs)
        except Exception:
            # The commit stands; the job is lost (Redis down): said loudly. ADR 0022.
            log.exception("job.not_sent", job=name, key=key)

    uow.after_commit(send)
    return key


@dataclass(frozen=True)
class Periodic:
    name: str
    interval: float
    kwargs: dict[str, Any]
    offset: float = 0.0  # seconds after the epoch's interval boundary each slot starts


async def schedule_forever(periodic: list[Periodic], tick: float = 0.5) -> None:
    """Send each periodic job once per interval for the life of the process.

    The key names the interval (job@slot), so two schedulers — a second worker, a restart —
    send the same key and the job's effect still happens once per interval."""
    sent: dict[str, int] = {}
    while True:
        now = time.time()
        for item in periodic:
            slot = int((now - item.offset) // item.interval)
            if sent.get(item.name) != slot:
                try:
                    await enqueue(item.name, f"{item.name}@{slot}", **item.kwargs)
                    sent[item.name] = slot
                except Exception:
                    log.exception("jobs.schedule_failed", job=item.name)
        await asyncio.sleep(tick)


FORGET_RUNS_JOB = "kernel.forget_old_runs"


@job(FORGET_RUNS_JOB)
async def forget_old_runs_job(key: str, keep_days: float = 7.0) -> int:
    return await forget_old_runs(current_database(), keep_days)
