"""Every query of the learning context. Takes the session; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.learning.models import (
    AnswerRecord,
    Attempt,
    AttemptItem,
    AttemptOperation,
    Bookmark,
    ExamDate,
    LearnerSettings,
    ReviewCard,
    WrongNote,
)


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def settings_of(session: AsyncSession, user_id: str) -> LearnerSettings | None:
    return await session.get(LearnerSettings, user_id)


async def exam_dates(session: AsyncSession, user_id: str) -> list[ExamDate]:
    return list((await session.scalars(select(ExamDate).where(ExamDate.user_id == user_id))).all())


async def answered_question_ids(
    session: AsyncSession, user_id: str, certification: str
) -> set[str]:
    rows = await session.scalars(
        select(AnswerRecord.question_id)
        .where(AnswerRecord.user_id == user_id, AnswerRecord.certification_code == certification)
        .distinct()
    )
    return set(rows)


async def bookmarks(
    session: AsyncSession, user_id: str, certification: str | None
) -> list[Bookmark]:
    query = select(Bookmark).where(Bookmark.user_id == user_id).order_by(Bookmark.created_at.desc())
    if certification:
        query = query.where(Bookmark.certification_code == certification)
    return list((await session.scalars(query)).all())


async def wrong_notes(
    session: AsyncSession, user_id: str, certification: str | None
) -> list[WrongNote]:
    query = (
        select(WrongNote)
        .where(WrongNote.user_id == user_id, WrongNote.cleared_at.is_(None))
        .order_by(WrongNote.last_wrong_at.desc())
    )
    if certification:
        query = query.where(WrongNote.certification_code == certification)
    return list((await session.scalars(query)).all())


async def due_cards(
    session: AsyncSession, user_id: str, certification: str | None, now: datetime, limit: int
) -> list[ReviewCard]:
    query = (
        select(ReviewCard)
        .where(ReviewCard.user_id == user_id, ReviewCard.due_at <= now)
        .order_by(ReviewCard.due_at)
        .limit(limit)
    )
    if certification:
        query = query.where(ReviewCard.certification_code == certification)
    return list((await session.scalars(query)).all())


async def count_due(session: AsyncSession, user_id: str, now: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(ReviewCard.certification_code, func.count())
        .where(ReviewCard.user_id == user_id, ReviewCard.due_at <= now)
        .group_by(ReviewCard.certification_code)
    )
    return {code: int(n) for code, n in rows}


async def attempt_items(session: AsyncSession, attempt_id: str) -> list[AttemptItem]:
    query = (
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id)
        .order_by(AttemptItem.position)
    )
    return list((await session.scalars(query)).all())


async def attempt_header(session: AsyncSession, attempt_id: str) -> Any:
    """The columns a save needs, in one small query."""
    return (
        await session.execute(
            select(
                Attempt.user_id,
                Attempt.status,
                Attempt.deadline_at,
                Attempt.sections,
                Attempt.started_at,
            ).where(Attempt.id == attempt_id)
        )
    ).first()


async def operation(session: AsyncSession, attempt_id: str, op_id: str) -> AttemptOperation | None:
    return await session.get(AttemptOperation, (attempt_id, op_id))


async def insert_operation(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record an operation once; False when the same op id was recorded before."""
    statement = _insert(session)(AttemptOperation).values(**row).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def apply_answer(
    session: AsyncSession,
    attempt_id: str,
    position: int,
    op_seq: int,
    values: dict[str, Any],
    elapsed_ms: int,
) -> bool:
    """Last write wins by operation order: applied only when `op_seq` is the newest."""
    result = await session.execute(
        update(AttemptItem)
        .where(
            AttemptItem.attempt_id == attempt_id,
            AttemptItem.position == position,
            AttemptItem.op_seq < op_seq,
        )
        .values(op_seq=op_seq, time_ms=AttemptItem.time_ms + elapsed_ms, **values)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    await session.execute(
        update(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id, AttemptItem.position == position)
        .values(time_ms=AttemptItem.time_ms + elapsed_ms)
    )
    return False


async def unanswered_count(session: AsyncSession, attempt_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt_id, AttemptItem.response.is_(None))
        )
        or 0
    )


async def claim_submit(session: AsyncSession, attempt_id: str, now: datetime, by: str) -> bool:
    """Flip open → submitted; exactly one of several concurrent submits gets True."""
    result = await session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status == "open")
        .values(status="submitted", submitted_at=now, submitted_by=by)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def expired_attempt_ids(
    session: AsyncSession, before: datetime, limit: int = 200
) -> list[str]:
    rows = await session.scalars(
        select(Attempt.id)
        .where(Attempt.status == "open", Attempt.deadline_at < before)
        .order_by(Attempt.deadline_at)
        .limit(limit)
    )
    return list(rows)


async def attempts_of(session: AsyncSession, user_id: str, limit: int) -> list[Attempt]:
    rows = await session.scalars(
        select(Attempt)
        .where(Attempt.user_id == user_id)
        .order_by(Attempt.started_at.desc())
        .limit(limit)
    )
    return list(rows)


async def operations_of(session: AsyncSession, attempt_id: str) -> list[AttemptOperation]:
    rows = await session.scalars(
        select(AttemptOperation)
        .where(AttemptOperation.attempt_id == attempt_id, AttemptOperation.applied.is_(True))
        .order_by(AttemptOperation.position, AttemptOperation.op_seq)
    )
    return list(rows)


async def items_with_question(
    session: AsyncSession, question_id: str, exclude_version: str
) -> list[AttemptItem]:
    """Items of submitted attempts that showed another version of a question."""
    rows = await session.scalars(
        select(AttemptItem)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(
            AttemptItem.question_id == question_id,
            AttemptItem.version_id != exclude_version,
            Attempt.status == "submitted",
        )
    )
    return list(rows)


async def attempts_by_id(session: AsyncSession, ids: Sequence[str]) -> list[Attempt]:
    if not ids:
        return []
    return list((await session.scalars(select(Attempt).where(Attempt.id.in_(ids)))).all())
