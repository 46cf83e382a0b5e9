"""Group mock exams in study rooms (ADR 0030).

The room's owner starts one blueprint exam for the members present: each gets an attempt
of their own in the learning context, all drawn from one seed in one transaction (the same
questions in the same order) and started on one server clock. Members sit it on the normal
exam page; the room sees each member's progress as counts. When every attempt is graded
(submitted by its learner, or by the deadline sweeper) the exam finishes: the group's
correct rate per question is known, and the most-missed questions go into every member's
review queue. Nothing commits here.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.community import events, rooms
from certplatform.community.contracts import (
    MAX_GROUP,
    MOST_MISSED,
    DebriefOut,
    GroupExamOut,
    MyScore,
    QuestionRate,
    SeatProgress,
)
from certplatform.community.models import GroupExam, GroupExamSeat, RoomMember
from certplatform.content import service as content
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from certplatform.kernel.events import record_event
from certplatform.learning import service as learning
from certplatform.learning.contracts import ItemRate

OWNER_ONLY = "Only the room's owner can start a group exam."
RUNNING = "A group exam is already running in this room."
NO_GROUP_EXAM = "No such group exam."
OTHER_CERTIFICATION = "This room studies another certification; choose one of its exams."
STILL_RUNNING = "The group exam is still running; its debrief comes when everyone has submitted."


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _members_in_good_standing(
    session: AsyncSession, room_id: str, user_ids: list[str]
) -> list[str]:
    rows = await session.scalars(
        select(RoomMember.user_id).where(
            RoomMember.room_id == room_id,
            RoomMember.user_id.in_(user_ids),
            RoomMember.banned_at.is_(None),
        )
    )
    found = set(rows.all())
    return [u for u in user_ids if u in found]


async def start(
    uow: UnitOfWork,
    principal: Principal,
    room_id: str,
    blueprint_id: str,
    member_ids: list[str],
) -> GroupExamOut:
    """Start a group exam for the owner and `member_ids` (those present, or those listed):
    only members in good standing take part, at most MAX_GROUP. One exam runs per room:
    the insert claims the room (unique `running_room_id`), so of two concurrent starts
    one inserts and the other finds the claim and is refused."""
    room = await rooms.check_present(uow, principal, room_id)
    if room.owner_id != principal.user_id:
        raise Forbidden(OWNER_ONLY)
    blueprint = await content.get_blueprint(uow, blueprint_id)
    if room.certification_code and blueprint.certification_code != room.certification_code:
        raise Invalid(OTHER_CERTIFICATION)
    wanted = list(dict.fromkeys([principal.user_id, *member_ids]))[:MAX_GROUP]
    people = await _members_in_good_standing(uow.session, room_id, wanted)
    if principal.user_id not in people:
        raise Forbidden(OWNER_ONLY)
    now = utcnow()
    exam_id, seed = new_id(), secrets.randbits(63)
    claimed = await uow.session.execute(
        _insert(uow.session)(GroupExam)
        .values(
            id=exam_id,
            created_at=now,
            room_id=room_id,
            running_room_id=room_id,
            started_by=principal.user_id,
            blueprint_id=blueprint.id,
            certification_code=blueprint.certification_code,
            form_name=blueprint.name,
            seed=str(seed),
            question_count=0,
            started_at=now,
            deadline_at=now + timedelta(minutes=blueprint.time_limit_minutes),
            state="running",
        )
        .on_conflict_do_nothing(index_elements=["running_room_id"])
        .returning(GroupExam.id)
    )
    if claimed.scalar_one_or_none() is None:
        raise Conflict(RUNNING)
    seats = await learning.start_together(uow, people, blueprint.id, seed=seed, now=now)
    await uow.session.execute(
        update(GroupExam)
        .where(GroupExam.id == exam_id)
        .values(question_count=seats[0].question_count, deadline_at=seats[0].deadline_at)
    )
    uow.session.add_all(
        GroupExamSeat(group_exam_id=exam_id, user_id=s.user_id, attempt_id=s.attempt_id)
        for s in seats
    )
    await uow.session.flush()
    record_event(
        uow.session,
        events.GROUP_EXAM_STARTED,
        {
            "room_id": room_id,
            "group_exam_id": exam_id,
            "blueprint_id": blueprint.id,
            "members": len(seats),
            "deadline_at": seats[0].deadline_at.isoformat(),
            "actor": principal.user_id,
        },
    )
    exam = await uow.session.get(GroupExam, exam_id)
    assert exam is not None
    return await _out(uow, exam, principal)


async def _seats(session: AsyncSession, exam_id: str) -> list[GroupExamSeat]:
    rows = await session.scalars(
        select(GroupExamSeat).where(GroupExamSeat.group_exam_id == exam_id)
    )
    return list(rows.all())


async def _out(uow: UnitOfWork, exam: GroupExam, principal: Principal | None) -> GroupExamOut:
    return GroupExamOut(
        id=exam.id,
        room_id=exam.room_id,
        form_name=exam.form_name,
        certification_code=exam.certification_code,
        question_count=exam.question_count,
        started_at=exam.started_at,
        deadline_at=exam.deadline_at,
        state=exam.state,
        server_time=utcnow(),
        my_attempt_id=next(
            (
                s.attempt_id
                for s in await _seats(uow.session, exam.id)
                if principal is not None and s.user_id == principal.user_id
            ),
            None,
        ),
        people=tuple(await progress(uow, exam.id)),
    )


async def progress(uow: UnitOfWork, exam_id: str) -> list[SeatProgress]:
    """Each member's answered count and total (names sorted); no answer, no score."""
    seats = await _seats(uow.session, exam_id)
    found = await learning.progress_of(uow, [s.attempt_id for s in seats])
    counts = {p.attempt_id: p for p in found}
    names = await identity.display_names(uow, [s.user_id for s in seats])
    people = [
        SeatProgress(
            user_id=s.user_id,
            name=names.get(s.user_id, "?"),
            answered=counts[s.attempt_id].answered,
            total=counts[s.attempt_id].total,
            submitted=counts[s.attempt_id].submitted,
        )
        for s in seats
        if s.attempt_id in counts
    ]
    return sorted(people, key=lambda p: (p.name, p.user_id))


async def latest(uow: UnitOfWork, principal: Principal, room_id: str) -> GroupExamOut | None:
    """The room's running group exam, else its last one; for members in good standing."""
    await rooms.check_present(uow, principal, room_id)
    exam = await _latest(uow.session, room_id)
    return await _out(uow, exam, principal) if exam else None


async def _latest(session: AsyncSession, room_id: str) -> GroupExam | None:
    row = await session.scalars(
        select(GroupExam)
        .where(GroupExam.room_id == room_id)
        .order_by(GroupExam.started_at.desc(), GroupExam.id.desc())
        .limit(1)
    )
    return row.one_or_none()


async def running_id(uow: UnitOfWork, room_id: str) -> str | None:
    row = await uow.session.scalars(
        select(GroupExam.id).where(GroupExam.running_room_id == room_id)
    )
    return row.one_or_none()


async def finish_if_done(uow: UnitOfWork, exam_id: str) -> bool:
    """Finish the exam once every attempt is graded: True for the one transaction that
    moved it from running to finished (the state change is the condition of the write, so
    the most-missed questions are queued once however many processes look)."""
    seats = await _seats(uow.session, exam_id)
    counts = await learning.progress_of(uow, [s.attempt_id for s in seats])
    if not counts or not all(c.submitted for c in counts):
        return False
    now = utcnow()
    moved = await uow.session.execute(
        update(GroupExam)
        .where(GroupExam.id == exam_id, GroupExam.state == "running")
        .values(state="finished", running_room_id=None, finished_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    exam = await uow.session.get(GroupExam, exam_id, populate_existing=True)
    assert exam is not None
    rates = await learning.item_rates(uow, [s.attempt_id for s in seats])
    missed = _most_missed(rates_of(rates))
    exam.missed_question_ids = [q.question_id for q in missed]
    await learning.queue_for_review(
        uow,
        [s.user_id for s in seats],
        exam.certification_code,
        exam.missed_question_ids,
        now,
    )
    await uow.session.flush()
    record_event(
        uow.session,
        events.GROUP_EXAM_FINISHED,
        {
            "room_id": exam.room_id,
            "group_exam_id": exam.id,
            "members": len(seats),
            "most_missed": exam.missed_question_ids,
            "actor": None,
        },
    )
    return True


def rates_of(rates: list[ItemRate]) -> list[QuestionRate]:
    return [
        QuestionRate(
            position=r.position,
            question_id=r.question_id,
            stem=r.stem,
            correct=r.correct,
            sat=r.sat,
            rate=r.correct / r.sat if r.sat else 0.0,
        )
        for r in rates
    ]


def _most_missed(rates: list[QuestionRate]) -> list[QuestionRate]:
    """The MOST_MISSED questions with the lowest group correct rate (first in the form on a
    tie); a question everyone got right is never among them."""
    missed = [r for r in rates if r.rate < 1.0]
    return sorted(missed, key=lambda r: (r.rate, r.position))[:MOST_MISSED]


async def debrief(uow: UnitOfWork, principal: Principal, exam_id: str) -> DebriefOut:
    """The debrief, for the members who sat the exam and only once it finished."""
    exam = await uow.session.get(GroupExam, exam_id)
    if exam is None:
        raise NotFound(NO_GROUP_EXAM)
    await rooms.check_present(uow, principal, exam.room_id)
    seats = await _seats(uow.session, exam_id)
    mine = next((s for s in seats if s.user_id == principal.user_id), None)
    if mine is None:
        raise NotFound(NO_GROUP_EXAM)
    if exam.state != "finished":
        await finish_if_done(uow, exam_id)
        await uow.session.refresh(exam)
        if exam.state != "finished":
            raise Conflict(STILL_RUNNING)
    rates = rates_of(await learning.item_rates(uow, [s.attempt_id for s in seats]))
    by_id = {r.question_id: r for r in rates}
    own = (await learning.progress_of(uow, [mine.attempt_id]))[0]
    return DebriefOut(
        group_exam_id=exam.id,
        room_id=exam.room_id,
        form_name=exam.form_name,
        certification_code=exam.certification_code,
        members=len(seats),
        questions=tuple(rates),
        most_missed=tuple(by_id[q] for q in exam.missed_question_ids or [] if q in by_id),
        mine=MyScore(attempt_id=mine.attempt_id, percent=own.percent, passed=own.passed),
    )
