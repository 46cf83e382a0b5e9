"""Every query of the community context; takes the session, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.community.models import (
    Comment,
    CommentReport,
    CommentVote,
    ErrorReport,
    Notice,
)

THREAD_LIMIT = 500


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def thread(session: AsyncSession, question_id: str) -> Sequence[Comment]:
    query = (
        select(Comment)
        .where(Comment.question_id == question_id)
        .order_by(Comment.created_at, Comment.id)
        .limit(THREAD_LIMIT)
    )
    return (await session.scalars(query)).all()


async def comment_for_update(session: AsyncSession, comment_id: str) -> Comment | None:
    """The comment, row-locked on PostgreSQL until the transaction ends (SQLite writers are
    serialised anyway), so that the checks made on it hold for the write that follows."""
    query = select(Comment).where(Comment.id == comment_id).with_for_update()
    return (await session.scalars(query)).one_or_none()


async def scores(
    session: AsyncSession, comment_ids: Sequence[str], user_id: str
) -> dict[str, tuple[int, int]]:
    """comment id → (sum of votes, this user's vote)."""
    if not comment_ids:
        return {}
    query = (
        select(
            CommentVote.comment_id,
            func.sum(CommentVote.value),
            func.sum(case((CommentVote.user_id == user_id, CommentVote.value), else_=0)),
        )
        .where(CommentVote.comment_id.in_(comment_ids))
        .group_by(CommentVote.comment_id)
    )
    return {cid: (int(total), int(mine)) for cid, total, mine in await session.execute(query)}


async def abuse_counts(session: AsyncSession, comment_ids: Sequence[str]) -> dict[str, int]:
    if not comment_ids:
        return {}
    query = (
        select(CommentReport.comment_id, func.count())
        .where(CommentReport.comment_id.in_(comment_ids))
        .group_by(CommentReport.comment_id)
    )
    return {cid: int(n) for cid, n in await session.execute(query)}


async def set_vote(session: AsyncSession, comment_id: str, user_id: str, value: int) -> None:
    """One row per (comment, user) whatever the interleaving: an upsert, or a delete for 0."""
    if value == 0:
        await session.execute(
            delete(CommentVote).where(
                CommentVote.comment_id == comment_id, CommentVote.user_id == user_id
            )
        )
        return
    statement = (
        _insert(session)(CommentVote)
        .values(comment_id=comment_id, user_id=user_id, value=value)
        .on_conflict_do_update(
            index_elements=[CommentVote.comment_id, CommentVote.user_id], set_={"value": value}
        )
    )
    await session.execute(statement)


async def add_abuse_report(
    session: AsyncSession, comment_id: str, user_id: str, reason: str, at: datetime
) -> bool:
    """True when this is the user's first report on the comment."""
    statement = (
        _insert(session)(CommentReport)
        .values(comment_id=comment_id, user_id=user_id, reason=reason, created_at=at)
        .on_conflict_do_nothing()
        .returning(CommentReport.comment_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def accept_only(session: AsyncSession, question_id: str, comment_id: str | None) -> None:
    """Make `comment_id` the one accepted comment of the thread (None: no comment), in one
    statement, so that two moderators accepting at once never leave two accepted."""
    await session.execute(
        update(Comment)
        .where(Comment.question_id == question_id)
        .values(accepted=(Comment.id == comment_id) if comment_id else False)
        .execution_options(synchronize_session=False)
    )


async def open_reports_of(
    session: AsyncSession, question_id: str, user_id: str | None = None
) -> int:
    query = select(func.count()).where(
        ErrorReport.question_id == question_id, ErrorReport.status == "open"
    )
    if user_id is not None:
        query = query.where(ErrorReport.reporter_id == user_id)
    return int((await session.scalar(query)) or 0)


async def error_reports(
    session: AsyncSession,
    *,
    status: str | None,
    certification: str | None,
    limit: int,
    offset: int,
) -> Sequence[ErrorReport]:
    query = select(ErrorReport)
    if status:
        query = query.where(ErrorReport.status == status)
    if certification:
        query = query.where(ErrorReport.certification_code == certification)
    query = (
        query.order_by(ErrorReport.created_at.desc(), ErrorReport.id).limit(limit).offset(offset)
    )
    return (await session.scalars(query)).all()


async def error_report_for_update(session: AsyncSession, report_id: str) -> ErrorReport | None:
    query = select(ErrorReport).where(ErrorReport.id == report_id).with_for_update()
    return (await session.scalars(query)).one_or_none()


async def resolve_open_reports(
    session: AsyncSession,
    question_id: str,
    version: int,
    by: str | None,
    at: datetime,
    until: datetime,
) -> Sequence[ErrorReport]:
    """Close the open reports on the question filed before `until` (the edit), in one
    statement: a report that another transaction resolves meanwhile is not returned twice."""
    statement = (
        update(ErrorReport)
        .where(
            ErrorReport.question_id == question_id,
            ErrorReport.status == "open",
            ErrorReport.created_at <= until,
        )
        .values(status="resolved", resolved_at=at, resolved_by=by, resolved_version=version)
        .returning(ErrorReport)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).all()


async def notices(session: AsyncSession, user_id: str, limit: int) -> Sequence[Notice]:
    query = (
        select(Notice)
        .where(Notice.user_id == user_id, Notice.read_at.is_(None))
        .order_by(Notice.created_at.desc(), Notice.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def mark_notice_read(
    session: AsyncSession, notice_id: str, user_id: str, at: datetime
) -> bool:
    result = await session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.user_id == user_id, Notice.read_at.is_(None))
        .values(read_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
