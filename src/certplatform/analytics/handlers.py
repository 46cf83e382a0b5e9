"""Outbox events → the analytics store. Plain handlers on the event bus, like audit's:
whichever transport delivers the event, the handler writes through the analytics port
(the relational store in the session it is given, or ClickHouse; ADR 0031)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.analytics.port import store_for
from certplatform.kernel.events import Event, EventBus, handler_name
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

# Answers of a relayed batch are written together, this many at a time: few large writes
# suit ClickHouse, and a chunk stays under the relational drivers' bound-parameter limits.
ANSWER_CHUNK = 2_000


async def on_answers(session: AsyncSession, event: Event) -> None:
    await on_answers_batch(session, [event])


async def on_answers_batch(session: AsyncSession, events: list[Event]) -> None:
    # Keyed by answer id: two events carrying one answer still count it once.
    unique = {
        a.answer_id: a for e in events for a in AnswersRecorded.model_validate(e.payload).answers
    }
    answers = list(unique.values())
    store = store_for(session)
    for i in range(0, len(answers), ANSWER_CHUNK):
        await store.record_answers(answers[i : i + ANSWER_CHUNK])


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
        if handler is on_answers:
            # One write for all the answers a relayed batch carries, under the same name
            # (the `processed_events` key) as one event at a time.
            bus.subscribe_batch([topic], on_answers_batch, name=handler_name(on_answers))
        else:
            bus.subscribe(topic, handler)
