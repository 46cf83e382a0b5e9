"""Outbox events → the analytics store. Plain handlers on the event bus, like audit's:
whichever transport delivers the event, the handler writes through the analytics port
(the relational store in the session it is given, or ClickHouse; ADR 0031)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.analytics.port import store_for
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
    answers = AnswersRecorded.model_validate(event.payload).answers
    await store_for(session).record_answers(answers)


async def on_attempt_started(session: AsyncSession, event: Event) -> None:
    await store_for(session).record_attempts_started([event.payload])


async def on_attempt_graded(session: AsyncSession, event: Event) -> None:
    graded = AttemptGraded.model_validate(event.payload)
    await store_for(session).record_attempts_graded([graded])


async def on_practice_started(session: AsyncSession, event: Event) -> None:
    run = PracticeStarted.model_validate(event.payload)
    await store_for(session).record_practice_runs([run])


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
