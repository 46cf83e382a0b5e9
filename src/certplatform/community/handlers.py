"""Community's reactions to other contexts' events (idempotent: see each handler)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.community import events, service
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.events import Event, EventBus


async def question_versioned(session: AsyncSession, event: Event) -> None:
    """A corrected question closes the error reports filed before the correction."""
    payload = event.payload
    await service.resolve_for_new_version(
        UnitOfWork(session),
        str(payload["question_id"]),
        int(payload["version"]),
        payload.get("actor"),
        event.created_at,
    )


def subscribe(bus: EventBus) -> None:
    bus.subscribe(events.QUESTION_VERSIONED, question_versioned)
