"""Group mock exams, learning's side (ADR 0030): every member of a study room sits the
same blueprint form on one clock, each in an attempt of their own.

The community context holds the group (room, members, state) and calls only these
functions: start the attempts together, read their progress as counts, read the group's
correct rate per question once every attempt is graded, and put questions into members'
review queues. Saves, the deadline and grading are those of any mock exam.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import Conflict
from certplatform.learning import repository as repo
from certplatform.learning.contracts import AttemptProgress, GroupSeat, ItemRate
from certplatform.learning.exams import start_for
from certplatform.learning.models import AttemptItem, ReviewCard
from certplatform.learning.scheduling import new_card_state
from certplatform.learning.shared import _versions

NOT_GRADED = "The group exam is still running; its debrief comes when everyone has submitted."


async def start_together(
    uow: UnitOfWork,
    user_ids: Sequence[str],
    blueprint_id: str,
    *,
    seed: int,
    now: datetime,
) -> list[GroupSeat]:
    """One attempt per learner from the blueprint, all with the same start and deadline.

    Every attempt is drawn with a fresh `random.Random(seed)` inside this one transaction,
    so the draw, the question order and the choice order are the same for everyone: the
    pool cannot change between two members' draws."""
    seats: list[GroupSeat] = []
    first: tuple[str, ...] | None = None
    for user_id in user_ids:
        view = await start_for(
            uow,
            user_id,
            blueprint_id=blueprint_id,
            rng=random.Random(seed),  # noqa: S311 - a secret seed; one form for all
            now=now,
        )
        order = tuple(i.question.question_id for i in view.items)
        if first is None:
            first = order
        elif order != first:  # cannot happen within one transaction; never grade unlike forms
            raise Conflict("The members' forms differ; start the group exam again.")
        seats.append(
            GroupSeat(
                user_id=user_id,
                attempt_id=view.id,
                question_count=view.question_count,
                started_at=view.started_at,
                deadline_at=view.deadline_at,
            )
        )
    return seats


async def progress_of(uow: UnitOfWork, attempt_ids: Sequence[str]) -> list[AttemptProgress]:
    """Answered count, total and whether submitted, per attempt (from the attempt row's own
    unanswered count: one small query, whatever the number of questions)."""
    return [
        AttemptProgress(
            attempt_id=a.id,
            user_id=a.user_id,
            answered=a.question_count - a.unanswered,
            total=a.question_count,
            submitted=a.status == "submitted",
            percent=a.score_percent,
            passed=a.passed,
        )
        for a in await repo.attempts_by_id(uow.session, attempt_ids)
    ]


async def item_rates(uow: UnitOfWork, attempt_ids: Sequence[str]) -> list[ItemRate]:
    """Per position of the shared form: how many of the group answered it right. Only once
    every attempt is graded (before that the counts would hint at keys)."""
    attempts = await repo.attempts_by_id(uow.session, attempt_ids)
    if not attempts or any(a.status != "submitted" for a in attempts):
        raise Conflict(NOT_GRADED)
    rows = (
        await uow.session.scalars(
            select(AttemptItem)
            .where(AttemptItem.attempt_id.in_([a.id for a in attempts]))
            .order_by(AttemptItem.position)
        )
    ).all()
    by_position: dict[int, list[AttemptItem]] = {}
    for row in rows:
        by_position.setdefault(row.position, []).append(row)
    versions = await _versions(uow, sorted({items[0].version_id for items in by_position.values()}))
    return [
        ItemRate(
            position=position,
            question_id=items[0].question_id,
            stem=versions[items[0].version_id].content.stem,
            correct=sum(1 for i in items if (i.fraction or 0.0) >= 1.0),
            sat=len(items),
        )
        for position, items in sorted(by_position.items())
    ]


async def queue_for_review(
    uow: UnitOfWork,
    user_ids: Sequence[str],
    certification: str,
    question_ids: Sequence[str],
    now: datetime,
) -> None:
    """Make each question due now in each learner's review queue (FSRS cards): a new card
    where there is none, an existing card pulled forward (its memory state kept)."""
    if not user_ids or not question_ids:
        return
    dialect = uow.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    state = new_card_state(now)
    rows = [
        {
            "user_id": user_id,
            "question_id": question_id,
            "certification_code": certification,
            "state": state,
            "due_at": now,
            "reviews": 0,
            "updated_at": now,
        }
        for user_id in user_ids
        for question_id in question_ids
    ]
    statement = insert(ReviewCard).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "question_id"],
        set_={
            "due_at": case((ReviewCard.due_at > now, now), else_=ReviewCard.due_at),
            "updated_at": now,
        },
    )
    await uow.session.execute(statement)
