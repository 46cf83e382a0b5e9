"""Remediation: learner settings and exam dates, answer records, wrong-answer notes,
bookmarks and review cards (the due queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from certplatform.content import service as content
from certplatform.content.contracts import VersionOut
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import Invalid, NotFound
from certplatform.kernel.zones import zone
from certplatform.learning import display
from certplatform.learning import repository as repo
from certplatform.learning.contracts import (
    AnswerRecorded,
    BookmarkOut,
    DueCard,
    LearningSettings,
    ResponseIn,
    WrongNoteDetail,
    WrongNoteOut,
)
from certplatform.learning.grading import Response, key_of
from certplatform.learning.models import (
    AnswerRecord,
    Bookmark,
    ExamDate,
    LearnerSettings,
    ReviewCard,
    WrongNote,
)
from certplatform.learning.scheduling import ReviewScheduler, rating_for
from certplatform.learning.shared import _current_versions, _response, _versions, locked_questions

EXPECTED_ANSWER_MS = 60_000  # a right answer slower than 1.5× this counts as Hard


# ---- settings, exam dates, scheduling ----------------------------------------------------


async def get_settings(uow: UnitOfWork, principal: Principal) -> LearningSettings:
    row = await repo.settings_of(uow.session, principal.user_id)
    dates = await repo.exam_dates(uow.session, principal.user_id)
    return LearningSettings(
        desired_retention=row.desired_retention if row else 0.9,
        exam_dates={d.certification_code: d.exam_date for d in dates},
    )


async def update_settings(
    uow: UnitOfWork, principal: Principal, settings: LearningSettings
) -> LearningSettings:
    """Set the desired retention and the exam dates (an omitted certification is cleared).

    A new or changed exam date must not lie in the past of the learner's own day; a date
    kept from before stays even after the exam."""
    kept = {
        d.certification_code: d.exam_date
        for d in await repo.exam_dates(uow.session, principal.user_id)
    }
    today = datetime.now(zone(principal.time_zone)).date()
    for code, day in sorted(settings.exam_dates.items()):
        if day < today and kept.get(code) != day:
            raise Invalid("That exam date has passed; choose today or a later day.")
    row = await repo.settings_of(uow.session, principal.user_id)
    if row is None:
        row = LearnerSettings(user_id=principal.user_id)
        uow.session.add(row)
    row.desired_retention = settings.desired_retention
    row.updated_at = utcnow()
    for existing in await repo.exam_dates(uow.session, principal.user_id):
        if existing.certification_code not in settings.exam_dates:
            await uow.session.delete(existing)
        else:
            existing.exam_date = settings.exam_dates[existing.certification_code]
    known = {d.certification_code for d in await repo.exam_dates(uow.session, principal.user_id)}
    for code, day in settings.exam_dates.items():
        if code not in known:
            uow.session.add(
                ExamDate(user_id=principal.user_id, certification_code=code, exam_date=day)
            )
    await uow.session.flush()
    return await get_settings(uow, principal)


async def _scheduler(uow: UnitOfWork, user_id: str, certification: str) -> ReviewScheduler:
    row = await repo.settings_of(uow.session, user_id)
    exam: date | None = None
    for d in await repo.exam_dates(uow.session, user_id):
        if d.certification_code == certification:
            exam = d.exam_date
    return ReviewScheduler(row.desired_retention if row else 0.9, exam)


# ---- remediation: answer records, wrong notes, review cards ---------------------------------


async def _record_answer(
    uow: UnitOfWork,
    *,
    user_id: str,
    certification: str,
    version: VersionOut,
    subject: str | None,
    context: Literal["practice", "exam"],
    fraction: float,
    elapsed_ms: int,
    clear_after: int,
    now: datetime,
    notes: dict[str, WrongNote] | None = None,
    response: Response | None = None,
    practice: tuple[str, int] | None = None,
    log: list[AnswerRecorded] | None = None,
) -> Literal["added", "kept", "cleared", "none"]:
    """Log the answer and keep the wrong-answer note in step with it. `notes`, when given,
    holds the learner's notes for the questions being recorded, loaded in advance (a
    question missing from it has no note); new notes are added to it. `response` and
    `practice` (run id, position) are kept with the record for the run's summary and
    the note. The record is appended to `log` for the analytics event."""
    correct = fraction >= 1.0
    answer_id = new_id()
    uow.session.add(
        AnswerRecord(
            id=answer_id,
            user_id=user_id,
            certification_code=certification,
            question_id=version.question_id,
            version_id=version.id,
            subject_code=subject,
            context=context,
            fraction=fraction,
            correct=correct,
            elapsed_ms=elapsed_ms,
            answered_at=now,
            response=response.model_dump(mode="json") if response is not None else None,
            practice_session_id=practice[0] if practice else None,
            position=practice[1] if practice else None,
        )
    )
    if log is not None:
        log.append(
            AnswerRecorded(
                answer_id=answer_id,
                user_id=user_id,
                certification=certification,
                question_id=version.question_id,
                version_id=version.id,
                subject=subject,
                context=context,
                correct=correct,
                fraction=fraction,
                elapsed_ms=elapsed_ms,
                answered_at=now,
                choice_ids=response.choice_ids if response is not None else (),
            )
        )
    if notes is None:
        note = await uow.session.get(WrongNote, (user_id, version.question_id))
    else:
        note = notes.get(version.question_id)
    if not correct:
        if note is None:
            note = WrongNote(
                user_id=user_id,
                question_id=version.question_id,
                certification_code=certification,
                memo="",
                wrong_count=0,
            )
            uow.session.add(note)
            if notes is not None:
                notes[version.question_id] = note
        note.wrong_count = (note.wrong_count or 0) + 1
        note.streak = 0
        note.last_wrong_at = now
        note.cleared_at = None
        return "added"
    if note is None or note.cleared_at is not None:
        return "none"
    note.streak += 1
    if note.streak >= clear_after:
        note.cleared_at = now
        return "cleared"
    return "kept"


async def _review(
    uow: UnitOfWork,
    user_id: str,
    certification: str,
    question_id: str,
    correct: bool,
    elapsed_ms: int,
    now: datetime,
) -> datetime:
    scheduler = await _scheduler(uow, user_id, certification)
    card = await uow.session.get(ReviewCard, (user_id, question_id))
    state, due = scheduler.review(
        card.state if card else None, rating_for(correct, elapsed_ms, EXPECTED_ANSWER_MS), now
    )
    if card is None:
        card = ReviewCard(
            user_id=user_id, question_id=question_id, certification_code=certification, reviews=0
        )
        uow.session.add(card)
    card.state = dict(state)
    card.due_at = due
    card.reviews = (card.reviews or 0) + 1
    card.updated_at = now
    return due


async def _stems(uow: UnitOfWork, question_ids: Sequence[str]) -> dict[str, str]:
    versions = await _current_versions(uow, question_ids)
    return {qid: v.content.stem for qid, v in versions.items()}


async def bookmarks(
    uow: UnitOfWork, principal: Principal, certification: str | None
) -> list[BookmarkOut]:
    rows = await repo.bookmarks(uow.session, principal.user_id, certification)
    stems = await _stems(uow, [r.question_id for r in rows])
    return [
        BookmarkOut(
            question_id=r.question_id,
            certification=r.certification_code,
            created_at=r.created_at,
            stem=stems.get(r.question_id, ""),
        )
        for r in rows
    ]


async def set_bookmark(uow: UnitOfWork, principal: Principal, question_id: str, on: bool) -> None:
    row = await uow.session.get(Bookmark, (principal.user_id, question_id))
    if on and row is None:
        found = await _current_versions(uow, [question_id])
        if question_id not in found:
            raise NotFound("No such question.")
        question = await content.get_question(uow, question_id)
        uow.session.add(
            Bookmark(
                user_id=principal.user_id,
                question_id=question_id,
                certification_code=question.certification_code,
                created_at=utcnow(),
            )
        )
    elif not on and row is not None:
        await uow.session.delete(row)


async def wrong_notes(
    uow: UnitOfWork, principal: Principal, certification: str | None
) -> list[WrongNoteOut]:
    rows = await repo.wrong_notes(uow.session, principal.user_id, certification)
    # A note says I got the question wrong and its memo often holds the key: while the
    # question is in my exam in progress, the note waits until I submit.
    locked = await locked_questions(uow, principal, [r.question_id for r in rows])
    rows = [r for r in rows if r.question_id not in locked]
    stems = await _stems(uow, [r.question_id for r in rows])
    return [
        WrongNoteOut(
            question_id=r.question_id,
            certification=r.certification_code,
            stem=stems.get(r.question_id, ""),
            memo=r.memo,
            wrong_count=r.wrong_count,
            streak=r.streak,
            last_wrong_at=r.last_wrong_at,
        )
        for r in rows
    ]


async def set_memo(uow: UnitOfWork, principal: Principal, question_id: str, memo: str) -> None:
    note = await uow.session.get(WrongNote, (principal.user_id, question_id))
    if note is None or note.cleared_at is not None:
        raise NotFound("This question is not in your wrong-answer note.")
    note.memo = memo[:5000]


async def remove_wrong_note(uow: UnitOfWork, principal: Principal, question_id: str) -> None:
    note = await uow.session.get(WrongNote, (principal.user_id, question_id))
    if note is None or note.cleared_at is not None:
        raise NotFound("This question is not in your wrong-answer note.")
    note.cleared_at = utcnow()


async def due_reviews(
    uow: UnitOfWork, principal: Principal, certification: str | None, limit: int = 100
) -> list[DueCard]:
    rows = await repo.due_cards(uow.session, principal.user_id, certification, utcnow(), limit)
    stems = await _stems(uow, [r.question_id for r in rows])
    return [
        DueCard(
            question_id=r.question_id,
            certification=r.certification_code,
            due_at=r.due_at,
            reviews=r.reviews,
            stem=stems.get(r.question_id, ""),
        )
        for r in rows
    ]


async def due_counts(uow: UnitOfWork, principal: Principal) -> dict[str, int]:
    return await repo.count_due(uow.session, principal.user_id, utcnow())


async def wrong_note_details(
    uow: UnitOfWork, principal: Principal, certification: str | None, subject: str | None
) -> list[WrongNoteDetail]:
    """The wrong-answer note with the question, my last wrong answer, the key and the
    explanation; `subject` narrows it. Locked questions are already left out by
    `wrong_notes`, so no key of an open exam is shown."""
    notes = await wrong_notes(uow, principal, certification)
    ids = [n.question_id for n in notes]
    questions = {q.id: q for q in await content.get_questions(uow, ids)}
    if subject:
        notes = [
            n
            for n in notes
            if n.question_id in questions and questions[n.question_id].subject_code == subject
        ]
        ids = [n.question_id for n in notes]
    current = await _current_versions(uow, ids)
    practised = await repo.last_wrong_records(uow.session, principal.user_id, ids)
    sat = await repo.last_wrong_exam_items(uow.session, principal.user_id, ids)
    answered = await _versions(
        uow,
        [r.version_id for r in practised.values()] + [i.version_id for i, _ in sat.values()],
    )
    details = []
    for note in notes:
        version = current.get(note.question_id)
        if version is None:
            continue
        c = version.content
        order = display.display_order(c, None)
        mine: ResponseIn | None = None
        record, exam = practised.get(note.question_id), sat.get(note.question_id)
        # The later of my last wrong practice answer and my last wrong exam answer.
        if exam and (record is None or exam[1] >= record.answered_at):
            source, raw = answered.get(exam[0].version_id), exam[0].response
        else:
            source = answered.get(record.version_id) if record else None
            raw = record.response if record else None
        response = _response(raw)
        if source is not None and response is not None:
            mine = display.to_display(
                source.content, display.display_order(source.content, None), response
            )
        question = questions.get(note.question_id)
        details.append(
            WrongNoteDetail(
                **note.model_dump(),
                subject=question.subject_code if question else None,
                question=display.view(version, order, note.certification),
                your_answer=mine,
                key=key_of(c),
                key_display=display.key_display(c, order),
                explanation=c.explanation,
            )
        )
    return details
