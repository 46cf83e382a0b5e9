"""Domain events: written to the outbox in the writer's transaction, relayed after commit.

A handler may see an event more than once (a relay that crashed after dispatch but before
marking it published retries it), so handlers are idempotent on `event.id`. Handlers get
the relay's session: what they write commits together with the event's `published_at`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, JSONType, UTCDateTime, new_id, utcnow
from certplatform.kernel.telemetry import OUTBOX_LAG, OUTBOX_OLDEST, OUTBOX_PENDING

log = structlog.get_logger(__name__)


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"

    topic: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class Event:
    id: str
    topic: str
    payload: dict[str, Any]
    created_at: datetime


def record_event(session: AsyncSession, topic: str, payload: dict[str, Any]) -> Event:
    """Put an event in the outbox as part of the caller's transaction."""
    row = OutboxEvent(id=new_id(), topic=topic, payload=payload, created_at=utcnow())
    session.add(row)
    return Event(row.id, topic, payload, row.created_at)


Handler = Callable[[AsyncSession, Event], Awaitable[None]]


class EventBus:
    """The in-process bus: topic → handlers. A NATS relay can replace the dispatch step."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    async def dispatch(self, session: AsyncSession, event: Event) -> None:
        for handler in self._handlers.get(event.topic, []):
            await handler(session, event)


async def relay_pending(session: AsyncSession, bus: EventBus, *, batch: int = 500) -> int:
    """Hand unpublished outbox events to the bus in order and mark them published.

    Handlers run in the relay's transaction, so their writes and the `published_at` mark
    commit together. On PostgreSQL, rows are locked with SKIP LOCKED so that several
    processes can relay side by side without handing out the same event twice.
    """
    query = (
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.scalars(query)).all()
    for row in rows:
        await bus.dispatch(session, Event(row.id, row.topic, row.payload, row.created_at))
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == row.id).values(published_at=utcnow())
        )
    await session.commit()
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


async def relay_forever(
    sessions: async_sessionmaker[AsyncSession], bus: EventBus, *, interval: float = 0.5
) -> None:
    """The background relay of one process: drains the outbox, then waits `interval`."""
    while True:
        try:
            async with sessions() as session:
                await measure_backlog(session)
                await session.commit()
                while await relay_pending(session, bus) > 0:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception:  # keep relaying; the event stays in the outbox
            log.exception("outbox.relay_failed")
        await asyncio.sleep(interval)
