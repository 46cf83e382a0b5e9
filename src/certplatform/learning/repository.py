"""Every query of the learning context. Takes the session; never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, func, insert, select, text, update
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
    PracticeSession,
    ReviewCard,
    WrongNote,
)


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


async def wrong_notes_for(
    session: AsyncSession, user_id: str, question_ids: Sequence[str]
) -> dict[str, WrongNote]:
    """The learner's notes (cleared ones too) for these questions, by question id."""
    if not question_ids:
        return {}
    rows = await session.scalars(
        select(WrongNote).where(
            WrongNote.user_id == user_id, WrongNote.question_id.in_(set(question_ids))
        )
    )
    return {note.question_id: note for note in rows}


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


# Any constant works as long as nothing else takes advisory locks in this key space: b"cpLr".
LEARNER_LOCK_SPACE = int.from_bytes(b"cpLr", "big")


_LOCK_LEARNER = text("SELECT pg_advisory_xact_lock(:space, hashtext(:user_id))")


async def lock_learner(session: AsyncSession, user_id: str) -> None:
    """Serialise, until the transaction ends, the steps of one learner that must not
    interleave: starting an attempt and revealing a practice key.

    PostgreSQL: a transaction-scoped advisory lock on (space, hash of the user id); a hash
    collision only makes two learners wait for each other. SQLite has one writer at a time,
    and the driver opens the transaction at the first write, so a write that touches no
    row takes the write lock before anything is read.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_LEARNER, {"space": LEARNER_LOCK_SPACE, "user_id": user_id})
    else:
        await session.execute(text("UPDATE attempts SET status = status WHERE 0 = 1"))


async def open_attempt_question_ids(
    session: AsyncSession, user_id: str, question_ids: Sequence[str] | None = None
) -> set[str]:
    """The questions (by question id, so every version of each) of the learner's open
    attempts; only those among `question_ids` when given."""
    query = (
        select(AttemptItem.question_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.user_id == user_id, Attempt.status == "open")
        .distinct()
    )
    if question_ids is not None:
        if not question_ids:
            return set()
        query = query.where(AttemptItem.question_id.in_(set(question_ids)))
    return set(await session.scalars(query))


async def attempt_items(session: AsyncSession, attempt_id: str) -> list[AttemptItem]:
    query = (
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id)
        .order_by(AttemptItem.position)
    )
    return list((await session.scalars(query)).all())


# PostgreSQL: the items of a start as one statement over arrays (one bind, one execution)
# instead of a hundred executions of a one-row INSERT.
_INSERT_ITEMS = text(
    "INSERT INTO attempt_items (attempt_id, position, question_id, version_id, section_code,"
    " points, display_order, op_seq, flagged, time_ms)"
    " SELECT :attempt_id, i.position, i.question_id, i.version_id, i.section_code, i.points,"
    " CAST(i.display_order AS jsonb), 0, false, 0"
    " FROM unnest(CAST(:positions AS int[]), CAST(:questions AS text[]),"
    " CAST(:versions AS text[]), CAST(:sections AS text[]), CAST(:points AS float8[]),"
    " CAST(:orders AS text[]))"
    " AS i(position, question_id, version_id, section_code, points, display_order)"
)


async def insert_items(session: AsyncSession, attempt_id: str, items: Sequence[Any]) -> None:
    """Write a new attempt's items (no answers yet) in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            _INSERT_ITEMS,
            {
                "attempt_id": attempt_id,
                "positions": [i.position for i in items],
                "questions": [i.question_id for i in items],
                "versions": [i.version_id for i in items],
                "sections": [i.section_code for i in items],
                "points": [float(i.points) for i in items],
                "orders": [json.dumps(i.display_order) for i in items],
            },
        )
        return
    rows = [
        {
            "attempt_id": attempt_id,
            "position": i.position,
            "question_id": i.question_id,
            "version_id": i.version_id,
            "section_code": i.section_code,
            "points": i.points,
            "display_order": i.display_order,
            "response": None,
            "op_seq": 0,
            "flagged": False,
            "time_ms": 0,
        }
        for i in items
    ]
    await session.execute(insert(AttemptItem), rows)


# ---- the answer-save path ---------------------------------------------------------------
# Saves are the hottest path, so their statements are built once with bind parameters:
# building a statement and computing its cache key cost about as much as running it.
#
# Serialisation point (ADR 9): the attempt row. A save holds a lock on it from its first
# statement to its commit (PostgreSQL: FOR NO KEY UPDATE; SQLite: the database write lock,
# and the item write itself carries `status = 'open'`); a submit flips the status with an
# UPDATE of that row, which waits for every save in flight, and reads the items after it.
# So a save either commits before the grading reads the items or sees the attempt closed.

_SAVE_CONTEXT = (
    select(
        Attempt.user_id,
        Attempt.status,
        Attempt.deadline_at,
        Attempt.sections,
        Attempt.started_at,
        AttemptOperation.position.label("op_position"),
        AttemptOperation.applied.label("op_applied"),
        AttemptOperation.at.label("op_at"),
        AttemptItem.version_id.label("item_version_id"),
        AttemptItem.section_code.label("item_section_code"),
        AttemptItem.display_order.label("item_display_order"),
    )
    .select_from(Attempt)
    .outerjoin(
        AttemptOperation,
        and_(
            AttemptOperation.attempt_id == Attempt.id,
            AttemptOperation.op_id == bindparam("ctx_op_id"),
        ),
    )
    .outerjoin(
        AttemptItem,
        and_(
            AttemptItem.attempt_id == Attempt.id,
            AttemptItem.position == bindparam("ctx_position"),
        ),
    )
    .where(Attempt.id == bindparam("ctx_attempt_id"))
    # Held until commit: a submit cannot flip the status between this check and the write,
    # and saves of one attempt take turns (its unanswered count stays exact).
    .with_for_update(key_share=True, of=Attempt)
)


def _unanswered_by(param: str) -> Any:
    return (
        select(func.count())
        .select_from(AttemptItem)
        .where(AttemptItem.attempt_id == bindparam(param), AttemptItem.response.is_(None))
    )


_UNANSWERED = _unanswered_by("count_attempt_id")
# Part of every item write of a save: on SQLite the status read before the write is not in
# the write's transaction, so the write itself must find the attempt still open.
_STILL_OPEN = (
    exists()
    .where(Attempt.id == bindparam("item_attempt_id"), Attempt.status == "open")
    .correlate_except(Attempt)
)
_ADD_TIME = (
    update(AttemptItem)
    .where(
        AttemptItem.attempt_id == bindparam("item_attempt_id"),
        AttemptItem.position == bindparam("item_position"),
        _STILL_OPEN,
    )
    .values(time_ms=AttemptItem.time_ms + bindparam("item_elapsed"))
    .execution_options(synchronize_session=False)
)
_OPERATION_COLUMNS = (
    "attempt_id",
    "op_id",
    "position",
    "op_seq",
    "response",
    "flagged",
    "applied",
    "at",
)


@cache
def _apply_statement(columns: tuple[str, ...]) -> Any:
    """The conditional item update for one set of changed columns (response, flagged)."""
    table = AttemptItem.__table__
    return (
        update(AttemptItem)
        .where(
            AttemptItem.attempt_id == bindparam("item_attempt_id"),
            AttemptItem.position == bindparam("item_position"),
            AttemptItem.op_seq < bindparam("item_seq"),
            _STILL_OPEN,
        )
        .values(
            op_seq=bindparam("item_seq"),
            time_ms=AttemptItem.time_ms + bindparam("item_elapsed"),
            **{c: bindparam(f"item_{c}", type_=table.c[c].type) for c in columns},
        )
        # The save path loads no item objects, so there is nothing to synchronise.
        .execution_options(synchronize_session=False)
    )


@cache
def _record_statement(dialect: str) -> Any:
    """Insert an operation unless its id is known, returning the unanswered count."""
    table = cast(Table, AttemptOperation.__table__)
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        dialect_insert(table)
        .values({c: bindparam(f"op_{c}", type_=table.c[c].type) for c in _OPERATION_COLUMNS})
        .on_conflict_do_nothing()
        .returning(_unanswered_by("op_attempt_id").scalar_subquery())
    )


async def save_context(session: AsyncSession, attempt_id: str, op_id: str, position: int) -> Any:
    """What a save reads, in one round trip: the attempt's header, the operation already
    recorded under `op_id` (op_* columns, None when new) and the item at `position`
    (item_* columns, None when there is no such item)."""
    if not 0 < position < 2**31:
        position = 0  # no item has it, and it must not overflow the integer column
    params = {"ctx_attempt_id": attempt_id, "ctx_op_id": op_id, "ctx_position": position}
    return (await session.execute(_SAVE_CONTEXT, params)).first()


async def record_operation(session: AsyncSession, row: dict[str, Any]) -> int | None:
    """Record an operation once and return the attempt's unanswered count after it, or None
    when the op id was recorded meanwhile by a concurrent request carrying the same id.

    The count rides on the insert's RETURNING (one round trip instead of two); the insert
    runs after this transaction's item update, so the count sees it."""
    statement = _record_statement(session.get_bind().dialect.name)
    params = {f"op_{c}": row[c] for c in _OPERATION_COLUMNS}
    count = (await session.execute(statement, params)).scalar()
    if count is None:
        return None
    await session.execute(_KEEP_UNANSWERED, {"a": row["attempt_id"], "n": count})
    return int(count)


_KEEP_UNANSWERED = text("UPDATE attempts SET unanswered = :n WHERE id = :a")


@dataclass(frozen=True)
class Recorded:
    """An operation as recorded under its op id, with the attempt's unanswered count."""

    position: int
    applied: bool
    at: datetime
    unanswered: int


_RECORDED = select(
    AttemptOperation.position,
    AttemptOperation.applied,
    AttemptOperation.at,
    _unanswered_by("rec_attempt_id").scalar_subquery(),
).where(
    AttemptOperation.attempt_id == bindparam("rec_attempt_id"),
    AttemptOperation.op_id == bindparam("rec_op_id"),
)
_TAKE_BACK_TIME = (
    update(AttemptItem)
    .where(
        AttemptItem.attempt_id == bindparam("item_attempt_id"),
        AttemptItem.position == bindparam("item_position"),
    )
    .values(time_ms=AttemptItem.time_ms - bindparam("item_elapsed"))
    .execution_options(synchronize_session=False)
)
_MARK_APPLIED = (
    update(AttemptOperation)
    .where(
        AttemptOperation.attempt_id == bindparam("rec_attempt_id"),
        AttemptOperation.op_id == bindparam("rec_op_id"),
    )
    .values(applied=True)
    .execution_options(synchronize_session=False)
)


async def recorded_operation(session: AsyncSession, attempt_id: str, op_id: str) -> Recorded | None:
    params = {"rec_attempt_id": attempt_id, "rec_op_id": op_id}
    row = (await session.execute(_RECORDED, params)).first()
    return Recorded(row[0], row[1], row[2], int(row[3] or 0)) if row else None


async def settle_duplicate(
    session: AsyncSession,
    attempt_id: str,
    op_id: str,
    position: int,
    elapsed_ms: int,
    applied: bool,
) -> Recorded:
    """A save whose op id a concurrent request recorded first repeated that operation: take
    back the time it added (an operation's time counts once) and, when it was this write
    that set the answer, mark the recorded operation applied, so that what it says is what
    the item holds. Returns the recorded operation (a different position is for the caller
    to refuse; the transaction is then rolled back)."""
    recorded = await recorded_operation(session, attempt_id, op_id)
    assert recorded is not None  # the insert found it
    if recorded.position != position:
        return recorded
    await session.execute(
        _TAKE_BACK_TIME,
        {"item_attempt_id": attempt_id, "item_position": position, "item_elapsed": elapsed_ms},
    )
    if applied and not recorded.applied:
        await session.execute(_MARK_APPLIED, {"rec_attempt_id": attempt_id, "rec_op_id": op_id})
        recorded = replace(recorded, applied=True)
    return recorded


async def apply_answer(
    session: AsyncSession,
    attempt_id: str,
    position: int,
    op_seq: int,
    values: dict[str, Any],
    elapsed_ms: int,
) -> bool | None:
    """Last write wins by operation order: True when applied (`op_seq` is the newest),
    False when a newer operation came first (only the time is added), None when the
    attempt is no longer open (nothing is written)."""
    params = {"item_attempt_id": attempt_id, "item_position": position, "item_elapsed": elapsed_ms}
    if values:
        statement = _apply_statement(tuple(sorted(values)))
        result = await session.execute(
            statement,
            {**params, "item_seq": op_seq, **{f"item_{c}": v for c, v in values.items()}},
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True
    result = await session.execute(_ADD_TIME, params)
    return False if result.rowcount else None  # type: ignore[attr-defined]


async def unanswered_count(session: AsyncSession, attempt_id: str) -> int:
    return int(await session.scalar(_UNANSWERED, {"count_attempt_id": attempt_id}) or 0)


async def claim_submit(session: AsyncSession, attempt_id: str, now: datetime, by: str) -> bool:
    """Flip open → submitted; exactly one of several concurrent submits gets True.

    The UPDATE locks the attempt row, so it waits for every save holding it (see above);
    items read after it in this transaction include every acknowledged save."""
    result = await session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status == "open")
        .values(status="submitted", submitted_at=now, submitted_by=by)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lock_attempt(session: AsyncSession, attempt_id: str) -> None:
    """Take the attempt row's exclusive lock now (PostgreSQL; SQLite has one writer)."""
    await session.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update())


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


async def run_answers(session: AsyncSession, practice_session_id: str) -> list[AnswerRecord]:
    """The answers given in a practice run, oldest first."""
    rows = await session.scalars(
        select(AnswerRecord)
        .where(AnswerRecord.practice_session_id == practice_session_id)
        .order_by(AnswerRecord.answered_at, AnswerRecord.id)
    )
    return list(rows)


async def last_wrong_records(
    session: AsyncSession, user_id: str, question_ids: Sequence[str]
) -> dict[str, AnswerRecord]:
    """Per question, the learner's latest wrong answer whose response was recorded."""
    if not question_ids:
        return {}
    rows = await session.scalars(
        select(AnswerRecord)
        .where(
            AnswerRecord.user_id == user_id,
            AnswerRecord.question_id.in_(question_ids),
            AnswerRecord.correct.is_(False),
            AnswerRecord.response.is_not(None),
        )
        .order_by(AnswerRecord.answered_at.desc(), AnswerRecord.id.desc())
    )
    found: dict[str, AnswerRecord] = {}
    for row in rows:
        found.setdefault(row.question_id, row)
    return found


async def last_wrong_exam_items(
    session: AsyncSession, user_id: str, question_ids: Sequence[str]
) -> dict[str, tuple[AttemptItem, datetime]]:
    """Per question, the latest submitted exam item answered wrongly, with its submit time."""
    if not question_ids:
        return {}
    rows = await session.execute(
        select(AttemptItem, Attempt.submitted_at)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(
            Attempt.user_id == user_id,
            Attempt.status == "submitted",
            AttemptItem.question_id.in_(question_ids),
            AttemptItem.response.is_not(None),
            AttemptItem.fraction < 1.0,
        )
        .order_by(Attempt.submitted_at.desc())
    )
    found: dict[str, tuple[AttemptItem, datetime]] = {}
    for item, submitted_at in rows:
        if submitted_at is not None:
            found.setdefault(item.question_id, (item, submitted_at))
    return found


async def studied_certifications(session: AsyncSession, user_id: str) -> set[str]:
    """Certifications the learner has practised, answered or sat a mock exam in."""
    practised = select(PracticeSession.certification_code).where(PracticeSession.user_id == user_id)
    answered = select(AnswerRecord.certification_code).where(AnswerRecord.user_id == user_id)
    sat = select(Attempt.certification_code).where(Attempt.user_id == user_id)
    rows = await session.scalars(practised.union(answered, sat))
    return set(rows)


# ---- the learning log, page by page (analytics backfill) ------------------------------------


async def answer_page(session: AsyncSession, after: str, limit: int) -> Sequence[Any]:
    """Rows, not entities: a backfill of millions must not fill the identity map."""
    table = AnswerRecord.__table__
    query = select(table).where(table.c.id > after).order_by(table.c.id)
    return (await session.execute(query.limit(limit))).all()


async def attempt_page(session: AsyncSession, after: str, limit: int) -> list[Attempt]:
    query = select(Attempt).where(Attempt.id > after).order_by(Attempt.id)
    return list((await session.scalars(query.limit(limit))).all())


async def practice_page(session: AsyncSession, after: str, limit: int) -> list[PracticeSession]:
    query = select(PracticeSession).where(PracticeSession.id > after).order_by(PracticeSession.id)
    return list((await session.scalars(query.limit(limit))).all())


async def due_dates(
    session: AsyncSession, user_id: str, certification: str | None, until: datetime
) -> list[datetime]:
    """When each of the learner's review cards falls due, up to `until` (overdue included)."""
    query = select(ReviewCard.due_at).where(
        ReviewCard.user_id == user_id, ReviewCard.due_at < until
    )
    if certification:
        query = query.where(ReviewCard.certification_code == certification)
    return list((await session.scalars(query)).all())
