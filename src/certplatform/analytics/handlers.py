"""Outbox events → the analytics store. Plain handlers on the event bus, like audit's:
whichever transport delivers the event, the handler writes in the session it is given."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.analytics import store
from certplatform.kernel.events import Event, EventBus
from certplatform.learning.contracts import (
    ANSWERS_RECORDED,
    ATTEMPT_GRADED,
    ATTEMPT_REGRADED,
    ATTEMPT_STARTED,
    PRACTICE_STARTED,
    AnswersRecorded,
    AttemptGraded,
    PracticeStarted,
)


async def on_answers(session: AsyncSession, event: Event) -> None:
    await store.record_answers(session, AnswersRecorded.model_validate(event.payload).answers)


async def on_attempt_started(session: AsyncSession, event: Event) -> None:
    await store.record_attempt_started(session, event.payload)


async def on_attempt_graded(session: AsyncSession, event: Event) -> None:
    await store.record_attempt_graded(session, AttemptGraded.model_validate(event.payload))


async def on_practice_started(session: AsyncSession, event: Event) -> None:
    await store.record_practice_started(session, PracticeStarted.model_validate(event.payload))


HANDLERS = {
    ANSWERS_RECORDED: on_answers,
    ATTEMPT_STARTED: on_attempt_started,
    ATTEMPT_GRADED: on_attempt_graded,
    ATTEMPT_REGRADED: on_attempt_graded,
    PRACTICE_STARTED: on_practice_started,
}


def subscribe(bus: EventBus) -> None:
    for topic, handler in HANDLERS.items():
        bus.subscribe(topic, handler)
