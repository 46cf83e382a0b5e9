"""Writes to the analytics store: the event consumer and the backfill.

Idempotent by construction: an answer's fact is inserted with ON CONFLICT DO NOTHING on
its answer id, and the rollups are incremented only for the facts that insert created, in
the same statement sequence and transaction. Replaying an event (a relay retry, a
redelivery, a backfill that already covered it) inserts nothing and so adds nothing.
Attempt and practice-run rows are upserts of absolute values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.analytics.models import (
    AnswerFact,
    AttemptFact,
    ItemChoice,
    ItemStats,
    LearnerDay,
    PracticeRunFact,
)
from certplatform.kernel.zones import zone
from certplatform.learning.contracts import AnswerRecorded, AttemptGraded, PracticeStarted

# Days of the study calendar (streaks, daily goals) are counted in the product's zone.
STUDY_ZONE = zone(None)
TABLES = (AnswerFact, LearnerDay, ItemStats, ItemChoice, AttemptFact, PracticeRunFact)


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def study_day(at: datetime) -> date:
    return at.astimezone(STUDY_ZONE).date()


def _fact(a: AnswerRecorded) -> dict[str, Any]:
    return {
        "answer_id": a.answer_id,
        "user_id": a.user_id,
        "certification": a.certification,
        "question_id": a.question_id,
        "version_id": a.version_id,
        "subject": a.subject or "",
        "context": a.context,
        "correct": a.correct,
        "fraction": a.fraction,
        "elapsed_ms": a.elapsed_ms,
        "answered_at": a.answered_at,
        "day": study_day(a.answered_at),
        "choice_ids": list(a.choice_ids),
    }


async def record_answers(session: AsyncSession, answers: Sequence[AnswerRecorded]) -> int:
    """Add the answers not seen before and their counts; returns how many were new."""
    if not answers:
        return 0
    ins = _insert(session)
    new_ids = set(
        (
            await session.scalars(
                ins(AnswerFact)
                .values([_fact(a) for a in answers])
                .on_conflict_do_nothing(index_elements=[AnswerFact.answer_id])
                .returning(AnswerFact.answer_id)
            )
        ).all()
    )
    fresh = [a for a in answers if a.answer_id in new_ids]
    days: Counter[tuple[str, str, date, str]] = Counter()
    days_right: Counter[tuple[str, str, date, str]] = Counter()
    days_ms: Counter[tuple[str, str, date, str]] = Counter()
    items: dict[str, list[Any]] = {}
    choices: Counter[tuple[str, str]] = Counter()
    for a in fresh:
        key = (a.user_id, a.certification, study_day(a.answered_at), a.subject or "")
        days[key] += 1
        days_right[key] += int(a.correct)
        days_ms[key] += a.elapsed_ms
        item = items.setdefault(a.question_id, [a.certification, 0, 0, 0])
        item[1] += 1
        item[2] += int(a.correct)
        item[3] += a.elapsed_ms
        for choice in a.choice_ids:
            choices[(a.question_id, choice)] += 1
    # Sorted keys: concurrent consumers lock rollup rows in the same order (no deadlock).
    await _add_days(session, [(k, days[k], days_right[k], days_ms[k]) for k in sorted(days)])
    await _add_items(session, [(q, *items[q]) for q in sorted(items)])
    await _add_choices(session, [(k, choices[k]) for k in sorted(choices)])
    return len(fresh)


async def _add_days(
    session: AsyncSession, rows: Iterable[tuple[tuple[str, str, date, str], int, int, int]]
) -> None:
    values = [
        {
            "user_id": u,
            "certification": c,
            "day": d,
            "subject": s,
            "answered": n,
            "correct": r,
            "elapsed_ms": ms,
        }
        for (u, c, d, s), n, r, ms in rows
    ]
    if not values:
        return
    stmt = _insert(session)(LearnerDay).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[
                LearnerDay.user_id,
                LearnerDay.certification,
                LearnerDay.day,
                LearnerDay.subject,
            ],
            set_={
                "answered": LearnerDay.answered + stmt.excluded.answered,
                "correct": LearnerDay.correct + stmt.excluded.correct,
                "elapsed_ms": LearnerDay.elapsed_ms + stmt.excluded.elapsed_ms,
            },
        )
    )


async def _add_items(session: AsyncSession, rows: Iterable[tuple[str, str, int, int, int]]) -> None:
    values = [
        {"question_id": q, "certification": c, "attempts": n, "correct": r, "elapsed_ms": ms}
        for q, c, n, r, ms in rows
    ]
    if not values:
        return
    stmt = _insert(session)(ItemStats).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ItemStats.question_id],
            set_={
                "attempts": ItemStats.attempts + stmt.excluded.attempts,
                "correct": ItemStats.correct + stmt.excluded.correct,
                "elapsed_ms": ItemStats.elapsed_ms + stmt.excluded.elapsed_ms,
            },
        )
    )


async def _add_choices(session: AsyncSession, rows: Iterable[tuple[tuple[str, str], int]]) -> None:
    values = [{"question_id": q, "choice_id": c, "picks": n} for (q, c), n in rows]
    if not values:
        return
    stmt = _insert(session)(ItemChoice).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ItemChoice.question_id, ItemChoice.choice_id],
            set_={"picks": ItemChoice.picks + stmt.excluded.picks},
        )
    )


async def record_attempt_started(session: AsyncSession, payload: dict[str, Any]) -> None:
    values = {
        "attempt_id": payload["attempt_id"],
        "user_id": payload["user_id"],
        "certification": payload["certification"],
        "form_kind": payload.get("form_kind", ""),
        "form_id": payload.get("form_id", ""),
        "form_name": payload.get("form", ""),
        "started_at": datetime.fromisoformat(payload["started_at"])
        if payload.get("started_at")
        else None,
    }
    if values["started_at"] is None:
        return  # an event from before started_at was carried; the graded event fills it
    await session.execute(
        _insert(session)(AttemptFact)
        .values(values)
        .on_conflict_do_nothing(index_elements=[AttemptFact.attempt_id])
    )


async def record_attempt_graded(session: AsyncSession, graded: AttemptGraded) -> None:
    """The score after a submit or a regrade. An older score never replaces a newer one:
    the update applies only when the row holds no later regrade."""
    values = {
        "attempt_id": graded.attempt_id,
        "user_id": graded.user_id,
        "certification": graded.certification,
        "form_kind": graded.form_kind,
        "form_id": graded.form_id,
        "form_name": graded.form_name,
        "started_at": graded.started_at,
        "submitted_at": graded.submitted_at,
        "percent": graded.percent,
        "passed": graded.passed,
        "sections": graded.sections,
        "regraded_at": graded.regraded_at,
        "previous_percent": graded.previous_percent,
        "previous_passed": graded.previous_passed,
    }
    stmt = _insert(session)(AttemptFact).values(values)
    newer: ColumnElement[bool] = AttemptFact.regraded_at.is_(None)
    if graded.regraded_at is not None:
        newer = or_(newer, AttemptFact.regraded_at <= graded.regraded_at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AttemptFact.attempt_id],
            set_={k: stmt.excluded[k] for k in values if k != "attempt_id"},
            where=newer,
        )
    )


async def record_practice_started(session: AsyncSession, run: PracticeStarted) -> None:
    await session.execute(
        _insert(session)(PracticeRunFact)
        .values(
            session_id=run.session_id,
            user_id=run.user_id,
            certification=run.certification,
            mode=run.mode,
            subject=run.subject,
            size=run.size,
            started_at=run.started_at,
        )
        .on_conflict_do_nothing(index_elements=[PracticeRunFact.session_id])
    )


# ---- rebuilding the rollups from the facts (the backfill) -----------------------------------


async def clear(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # The consumer waits while the store is rebuilt, so nothing is counted twice.
        names = ", ".join(t.__tablename__ for t in TABLES)
        await session.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    for table in TABLES:
        await session.execute(delete(table))


async def insert_facts(session: AsyncSession, answers: Sequence[AnswerRecorded]) -> None:
    """Plain multi-row inserts (executemany) into a cleared store; rollups come after."""
    if answers:
        await session.execute(insert(AnswerFact), [_fact(a) for a in answers])


async def rebuild_rollups(session: AsyncSession, choices: Counter[tuple[str, str]]) -> None:
    """Recount every rollup from the answer facts (choice counts are passed in: the facts'
    JSON lists are not portable SQL to unnest)."""
    a = AnswerFact
    await session.execute(
        insert(LearnerDay).from_select(
            ["user_id", "certification", "day", "subject", "answered", "correct", "elapsed_ms"],
            select(
                a.user_id,
                a.certification,
                a.day,
                a.subject,
                func.count(),
                func.sum(case((a.correct, 1), else_=0)),
                func.sum(a.elapsed_ms),
            ).group_by(a.user_id, a.certification, a.day, a.subject),
        )
    )
    await session.execute(
        insert(ItemStats).from_select(
            ["question_id", "certification", "attempts", "correct", "elapsed_ms"],
            select(
                a.question_id,
                func.min(a.certification),
                func.count(),
                func.sum(case((a.correct, 1), else_=0)),
                func.sum(a.elapsed_ms),
            ).group_by(a.question_id),
        )
    )
    rows = [{"question_id": q, "choice_id": c, "picks": n} for (q, c), n in sorted(choices.items())]
    if rows:
        await session.execute(insert(ItemChoice), rows)
