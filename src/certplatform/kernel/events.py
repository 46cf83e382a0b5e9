"""Domain events: written to the outbox in the writer's transaction, relayed after commit.

A handler may see an event more than once (a relay that crashed after dispatch but before
marking it published retries it), so handlers are idempotent on `event.id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, JSONType, UTCDateTime, new_id, utcnow

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


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """The in-process bus: topic → handlers. A NATS relay can replace the dispatch step."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    async def dispatch(self, event: Event) -> None:
        for handler in self._handlers.get(event.topic, []):
            await handler(event)


async def relay_pending(session: AsyncSession, bus: EventBus, *, batch: int = 500) -> int:
    """Hand unpublished outbox events to the bus in order and mark them published."""
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
            .limit(batch)
        )
    ).all()
    for row in rows:
        await bus.dispatch(Event(row.id, row.topic, row.payload, row.created_at))
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == row.id).values(published_at=utcnow())
        )
    await session.commit()
    if rows:
        log.debug("outbox.relayed", count=len(rows))
    return len(rows)
