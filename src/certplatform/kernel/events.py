"""Domain events: written to the outbox in the writer's transaction, relayed after commit.

Two transports, one handler path (ADR 0021). Embedded, the relay hands each event to the
bus in its own transaction. With NATS_URL set, the relay publishes it to JetStream
(`kernel.jetstream`) and the worker hands what it consumes to the same bus.

A handler may see an event more than once (redelivery, a relay that crashed after dispatch),
so `EventBus.dispatch` claims (handler, event id) in `processed_events` first, in the
handler's transaction: its effect happens once whichever transport delivered it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, JSONType, UTCDateTime, new_id, utcnow
from certplatform.kernel.telemetry import OUTBOX_LAG, OUTBOX_OLDEST, OUTBOX_PENDING
from certplatform.kernel.tracing import (
    current_traceparent,
    end_publish,
    handling,
    start_publish,
    tracer,
)

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
TOPIC_PATTERN = r"^certplatform\.[a-z_]+\.[a-z_.]+\.v[0-9]+$"
# The payload key whose value orders an event among its own (the first one present).
ORDERING_KEYS = ("attempt_id", "question_id", "comment_id", "report_id", "user_id", "code")


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"

    topic: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The W3C traceparent of the span that wrote it (tracing on): the relay continues its trace.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class ProcessedEvent(Base):
    """Which handler has already had its effect for which event (idempotent handling)."""

    __tablename__ = "processed_events"

    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Event:
    id: str
    topic: str
    payload: dict[str, Any]
    created_at: datetime
    # The publish span's traceparent, for the handlers' spans (not part of the envelope:
    # on NATS it travels as a message header).
    traceparent: str | None = None

    @property
    def context(self) -> str:
        """certplatform.learning.attempt.submitted.v1 → learning"""
        return self.topic.split(".")[1]

    @property
    def ordering_key(self) -> str:
        """Events with one key are handled in the order they were written (per attempt...)."""
        for name in ORDERING_KEYS:
            value = self.payload.get(name)
            if value is not None:
                return f"{name}:{value}"
        return f"event:{self.id}"


class EventEnvelope(BaseModel):
    """What travels on the bus: the JSON body of every message on `certplatform.>`.

    The subject is the topic with the key's partition after the context (ADR 0034); the
    `Nats-Msg-Id` header is `id` (JetStream drops a repeat).
    `schema` versions this envelope; the topic's `.vN` versions the payload.
    """

    model_config = ConfigDict(frozen=True, title="certplatform event", populate_by_name=True)

    schema_version: Literal[1] = Field(
        default=1, alias="schema", description="version of this envelope"
    )
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="event id, unique; dedup key")
    topic: str = Field(
        pattern=TOPIC_PATTERN,
        max_length=200,
        description="certplatform.<context>.<event>.v<N>",
    )
    created_at: datetime = Field(description="when the writer's transaction recorded it (UTC)")
    key: str = Field(max_length=300, description="ordering key: events with one key keep order")
    payload: dict[str, Any] = Field(description="the topic's data (ids and codes, never keys)")

    @classmethod
    def of(cls, event: Event) -> EventEnvelope:
        return cls(
            id=event.id,
            topic=event.topic,
            created_at=event.created_at,
            key=event.ordering_key,
            payload=event.payload,
        )

    def event(self) -> Event:
        return Event(self.id, self.topic, self.payload, self.created_at)


def record_event(session: AsyncSession, topic: str, payload: dict[str, Any]) -> Event:
    """Put an event in the outbox as part of the caller's transaction."""
    row = OutboxEvent(
        id=new_id(),
        topic=topic,
        payload=payload,
        created_at=utcnow(),
        traceparent=current_traceparent(),
    )
    session.add(row)
    return Event(row.id, topic, payload, row.created_at)


Handler = Callable[[AsyncSession, Event], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[Event]], Awaitable[None]]


def handler_name(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}".replace(".<locals>", "")


@dataclass(frozen=True)
class _Subscription:
    name: str  # its key in `processed_events`: keep it stable
    one: Handler | None = None
    many: BatchHandler | None = None


class EventBus:
    """Topic → handlers, each under a stable name (its key in `processed_events`)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[_Subscription]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler, *, name: str | None = None) -> None:
        self._handlers[topic].append(_Subscription(name or handler_name(handler), one=handler))

    def subscribe_batch(self, topics: list[str], handler: BatchHandler, *, name: str) -> None:
        """One handler that takes all its events of a relayed batch at once, in order."""
        for topic in topics:
            self._handlers[topic].append(_Subscription(name, many=handler))

    @property
    def topics(self) -> list[str]:
        return sorted(topic for topic, handlers in self._handlers.items() if handlers)

    def handler_names(self, topic: str) -> list[str]:
        return [subscription.name for subscription in self._handlers.get(topic, [])]

    async def dispatch(self, session: AsyncSession, event: Event) -> int:
        return await self.dispatch_many(session, [event])

    async def dispatch_many(self, session: AsyncSession, events: list[Event]) -> int:
        """Run each handler on the events it has not had yet, in the caller's transaction.

        Each handler gets its events in the given order. Returns how many (handler, event)
        runs there were. A handler that raises leaves its claims uncommitted with the rest
        of the transaction, so a later delivery runs it again.
        """
        plan: dict[str, tuple[_Subscription, list[Event]]] = {}
        for event in events:
            for subscription in self._handlers.get(event.topic, []):
                plan.setdefault(subscription.name, (subscription, []))[1].append(event)
        ran = 0
        for name, (subscription, mine) in plan.items():
            claimed = await _claim(session, name, [event.id for event in mine])
            todo = []
            for event in mine:
                if event.id in claimed:
                    claimed.discard(event.id)  # the same event twice in a batch: once
                    todo.append(event)
            if subscription.many is not None and todo:
                with _handler_span(name, todo):
                    await subscription.many(session, todo)
            elif subscription.one is not None:
                for event in todo:
                    with _handler_span(name, [event]):
                        await subscription.one(session, event)
            ran += len(todo)
        return ran


_UNTRACED = contextlib.nullcontext()


def _handler_span(name: str, events: list[Event]) -> contextlib.AbstractContextManager[None]:
    if tracer() is None:
        return _UNTRACED  # tracing off: not even a generator per handler run
    return handling(
        name,
        [event.topic for event in events],
        [event.id for event in events],
        [event.traceparent for event in events],
    )


async def _claim(session: AsyncSession, handler: str, event_ids: list[str]) -> set[str]:
    """Insert (handler, event id) for each id not there yet; the ids this call inserted."""
    now = utcnow()
    rows = [
        {"handler": handler, "event_id": i, "processed_at": now} for i in dict.fromkeys(event_ids)
    ]
    if not rows:
        return set()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Parameters as a list: one cached statement, sent as multi-row VALUES pages.
    statement = insert(ProcessedEvent).on_conflict_do_nothing().returning(ProcessedEvent.event_id)
    return set((await session.scalars(statement, rows)).all())


async def claim_pending(session: AsyncSession, batch: int) -> Sequence[OutboxEvent]:
    """The oldest unpublished events, locked (SKIP LOCKED) on PostgreSQL so that several
    relays side by side never take the same rows."""
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def mark_published(session: AsyncSession, ids: Sequence[str]) -> None:
    if ids:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(published_at=utcnow())
        )


def as_event(row: OutboxEvent, traceparent: str | None = None) -> Event:
    return Event(row.id, row.topic, row.payload, row.created_at, traceparent)


async def relay_pending(session: AsyncSession, bus: EventBus, *, batch: int = 500) -> int:
    """Hand unpublished outbox events to the bus in order and mark them published.

    Handlers run in the relay's transaction, so their writes and the `published_at` mark
    commit together: a whole batch per transaction, not one event each.
    """
    rows = await claim_pending(session, batch)
    events, spans = [], []
    for row in rows:
        span, traceparent = start_publish(row.traceparent, row.topic, row.id, "in-process")
        events.append(as_event(row, traceparent))
        if span is not None:
            spans.append(span)
    try:
        await bus.dispatch_many(session, events)
        await mark_published(session, [row.id for row in rows])
        await session.commit()
    except BaseException as exc:
        for span in spans:
            end_publish(span, exc)
        raise
    for span in spans:
        end_publish(span)
    if rows:
        done = utcnow()
        for row in rows:
            OUTBOX_LAG.observe(max((done - row.created_at).total_seconds(), 0.0))
        log.debug("outbox.relayed", count=len(rows))
    return len(rows)


async def measure_backlog(session: AsyncSession) -> None:
    """Set the outbox gauges: how many events wait, and for how long the oldest has."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.published_at.is_(None)
            )
        )
    ).one()
    OUTBOX_PENDING.set(count)
    OUTBOX_OLDEST.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)


Relay = Callable[[AsyncSession], Awaitable[int]]


async def relay_forever(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    *,
    interval: float = 0.5,
    publish: Relay | None = None,
) -> None:
    """The background relay of one process: drains the outbox, then waits `interval`.

    `publish` (the JetStream publisher) replaces the in-process dispatch when NATS is on.
    """
    step: Relay = publish or (lambda session: relay_pending(session, bus))
    while True:
        try:
            async with sessions() as session:
                await measure_backlog(session)
                await session.commit()
                while await step(session) > 0:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception:  # keep relaying; the event stays in the outbox
            log.exception("outbox.relay_failed")
        await asyncio.sleep(interval)
