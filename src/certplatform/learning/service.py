"""The public face of learning: practice, remediation, mock exams, grading, regrading.

Services take the unit of work and never commit. Replies to a learner before submission
are built from `QuestionView`, which has no place for a key or an explanation.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from certplatform.content import service as content
from certplatform.content.contracts import DrawnItem, PassRule, QuestionContent, VersionOut
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Invalid, NotFound
from certplatform.kernel.events import record_event
from certplatform.kernel.ratelimit import RateLimit
from certplatform.kernel.telemetry import ATTEMPTS_STARTED, ATTEMPTS_SUBMITTED, GRADING
from certplatform.kernel.zones import zone
from certplatform.learning import display
from certplatform.learning import repository as repo
from certplatform.learning.contracts import (
    ANSWERS_RECORDED,
    ATTEMPT_GRADED,
    ATTEMPT_REGRADED,
    PRACTICE_STARTED,
    AnswerRecorded,
    AnswersRecorded,
    AttemptGraded,
    AttemptItemView,
    AttemptResult,
    AttemptReview,
    AttemptSummary,
    AttemptView,
    BookmarkOut,
    DueCard,
    Feedback,
    LearningSettings,
    PracticeQuestion,
    PracticeSessionOut,
    PracticeStart,
    PracticeStarted,
    PracticeSummary,
    RegradeChange,
    RegradeReport,
    ResponseIn,
    ReviewItem,
    RunAnswer,
    SaveAck,
    SaveAnswer,
    SectionClock,
    SectionScore,
    WrongNoteDetail,
    WrongNoteOut,
)
from certplatform.learning.grading import (
    ExamResult,
    InvalidResponse,
    ItemResult,
    Response,
    grade_exam,
    key_of,
    render_reason,
    score,
    validate_response,
)
from certplatform.learning.models import (
    AnswerRecord,
    Attempt,
    AttemptEvent,
    AttemptItem,
    Bookmark,
    ExamDate,
    LearnerSettings,
    PracticeSession,
    ReviewCard,
    WrongNote,
)
from certplatform.learning.scheduling import ReviewScheduler, rating_for

EXPECTED_ANSWER_MS = 60_000  # a right answer slower than 1.5× this counts as Hard
_VERSION_CACHE: OrderedDict[str, VersionOut] = OrderedDict()
_VERSION_CACHE_SIZE = 20_000


# ---- question versions (immutable, so cached in-process) -----------------------------------


async def _versions(uow: UnitOfWork, version_ids: Sequence[str]) -> dict[str, VersionOut]:
    missing = [v for v in dict.fromkeys(version_ids) if v not in _VERSION_CACHE]
    if missing:
        for vid, version in (await content.versions_by_id(uow, missing)).items():
            _VERSION_CACHE[vid] = version
            if len(_VERSION_CACHE) > _VERSION_CACHE_SIZE:
                _VERSION_CACHE.popitem(last=False)
    return {v: _VERSION_CACHE[v] for v in version_ids if v in _VERSION_CACHE}


async def _current_versions(uow: UnitOfWork, question_ids: Sequence[str]) -> dict[str, VersionOut]:
    """The current version of each question: its id from the bank, its content from the
    cache of immutable versions."""
    ids = await content.current_version_ids(uow, question_ids)
    versions = await _versions(uow, list(ids.values()))
    return {question: versions[version] for question, version in ids.items()}


async def question_version(db: Database, version_id: str) -> VersionOut:
    """One exact question version, from this process's cache when it has it."""
    cached = _VERSION_CACHE.get(version_id)
    if cached is not None:
        return cached
    async with db.transaction() as uow:
        return (await _versions(uow, [version_id]))[version_id]


def internal_response(content_: QuestionContent, order: list[str], answer: ResponseIn) -> Response:
    """A displayed answer as stored (choice keys mapped back), or Invalid when it does not fit."""
    return _internal(content_, order, answer)


def _response(data: dict[str, Any] | None) -> Response | None:
    return Response.model_validate(data) if data is not None else None


def _internal(content_: QuestionContent, order: list[str], answer: ResponseIn) -> Response:
    try:
        response = display.to_internal(content_, order, answer)
        validate_response(content_, response)
    except InvalidResponse as exc:
        raise Invalid(
            N_("The answer does not fit the question: %(problem)s."), problem=str(exc)
        ) from exc
    return response


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


# ---- the exam lock: no key of an open attempt reaches its learner -----------------------------

LOCKED_MESSAGE = "This question is part of your exam in progress; practise it after you submit."
ALL_LOCKED_MESSAGE = (
    "Every question here is part of your exam in progress; practise them after you submit."
)
REVIEW_LOCKED_MESSAGE = (
    "This review shows questions of your exam in progress; open it after you submit."
)


async def locked_questions(
    uow: UnitOfWork, principal: Principal, question_ids: Sequence[str]
) -> set[str]:
    """The one place that decides whether a learner may see a question's key, explanation
    or correctness now: not while the question (any version of it, so by question id) is
    part of one of the learner's open attempts. Returns the ids among `question_ids` that
    are locked. Practice, the wrong-answer note and past reviews all ask here."""
    return await repo.open_attempt_question_ids(uow.session, principal.user_id, question_ids)


async def _ensure_unlocked(uow: UnitOfWork, principal: Principal, question_id: str) -> None:
    if await locked_questions(uow, principal, [question_id]):
        raise Conflict(LOCKED_MESSAGE)


# ---- practice ------------------------------------------------------------------------------


async def start_practice(
    uow: UnitOfWork, principal: Principal, spec: PracticeStart, rng: random.Random | None = None
) -> PracticeSessionOut:
    """Pick the questions of a practice run from the learner's chosen source."""
    pool = await content.practice_pool(uow, spec.certification, spec.subject, spec.topic)
    ids = [p.question_id for p in pool]
    user = principal.user_id
    if spec.mode == "wrong":
        noted = {
            n.question_id for n in await repo.wrong_notes(uow.session, user, spec.certification)
        }
        ids = [q for q in ids if q in noted]
    elif spec.mode == "bookmarked":
        marked = {
            b.question_id for b in await repo.bookmarks(uow.session, user, spec.certification)
        }
        ids = [q for q in ids if q in marked]
    elif spec.mode == "due":
        due = await repo.due_cards(uow.session, user, spec.certification, utcnow(), 10_000)
        order = {c.question_id: n for n, c in enumerate(due)}
        ids = sorted((q for q in ids if q in order), key=order.__getitem__)
    elif spec.mode == "new":
        seen = await repo.answered_question_ids(uow.session, user, spec.certification)
        ids = [q for q in ids if q not in seen]
    if ids:
        # Every mode draws from the pool above, so this one filter keeps an exam's
        # questions out of practice, whatever the mode.
        locked = await locked_questions(uow, principal, ids)
        if locked:
            ids = [q for q in ids if q not in locked]
            if not ids:
                raise Conflict(ALL_LOCKED_MESSAGE)
    if spec.order == "random":
        (rng or random.SystemRandom()).shuffle(ids)
    ids = ids[: spec.limit]
    if not ids:
        raise Conflict(
            {
                "all": "No published questions match this choice yet.",
                "wrong": "Your wrong-answer note is empty for this choice.",
                "bookmarked": "You have no bookmarks here yet.",
                "due": "Nothing is due for review right now.",
                "new": "You have answered every question here at least once.",
            }[spec.mode]
        )
    row = PracticeSession(
        user_id=user,
        certification_code=spec.certification,
        mode=spec.mode,
        subject_code=spec.subject,
        topic_code=spec.topic,
        question_ids=ids,
        answered=0,
        correct=0,
        created_at=utcnow(),
    )
    uow.session.add(row)
    await uow.session.flush()
    record_event(
        uow.session,
        PRACTICE_STARTED,
        PracticeStarted(
            session_id=row.id,
            user_id=user,
            certification=row.certification_code,
            mode=row.mode,
            subject=row.subject_code,
            size=len(ids),
            started_at=row.created_at,
        ).model_dump(mode="json"),
    )
    return _session_out(row)


def _session_out(row: PracticeSession) -> PracticeSessionOut:
    return PracticeSessionOut(
        id=row.id,
        certification=row.certification_code,
        mode=row.mode,
        total=len(row.question_ids),
        answered=row.answered,
        correct=row.correct,
    )


async def _practice_session(
    uow: UnitOfWork, principal: Principal, session_id: str
) -> PracticeSession:
    row = await uow.session.get(PracticeSession, session_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound("No such practice session.")
    return row


async def practice_session(
    uow: UnitOfWork, principal: Principal, session_id: str
) -> PracticeSessionOut:
    return _session_out(await _practice_session(uow, principal, session_id))


async def practice_question(
    uow: UnitOfWork, principal: Principal, session_id: str, position: int
) -> PracticeQuestion:
    """One question of a practice run, without its key. A question that became part of an
    exam after the run started is refused (409) until the exam is submitted."""
    row = await _practice_session(uow, principal, session_id)
    if not 0 <= position < len(row.question_ids):
        raise NotFound(
            N_("The session has questions 0 to %(last)s."), last=len(row.question_ids) - 1
        )
    qid = row.question_ids[position]
    await _ensure_unlocked(uow, principal, qid)
    version = (await _current_versions(uow, [qid]))[qid]
    bookmark = await uow.session.get(Bookmark, (principal.user_id, qid))
    note = await uow.session.get(WrongNote, (principal.user_id, qid))
    return PracticeQuestion(
        session_id=row.id,
        position=position,
        total=len(row.question_ids),
        question=display.view(
            version, display.display_order(version.content, None), row.certification_code
        ),
        bookmarked=bookmark is not None,
        in_wrong_note=note is not None and note.cleared_at is None,
        mode=row.mode,
    )


async def answer_practice(
    uow: UnitOfWork,
    principal: Principal,
    session_id: str,
    position: int,
    answer: ResponseIn,
    elapsed_ms: int,
    *,
    clear_after: int,
) -> Feedback:
    """Grade one practice answer at once: right or wrong, key, explanation; update the
    wrong-answer note and the question's review card. Refused (409, nothing written) while
    the question is part of the learner's open attempt."""
    row = await _practice_session(uow, principal, session_id)
    if not 0 <= position < len(row.question_ids):
        raise NotFound("No such question in this session.")
    qid = row.question_ids[position]
    # Held until commit, so an attempt cannot open between this check and the reply.
    await repo.lock_learner(uow.session, principal.user_id)
    await _ensure_unlocked(uow, principal, qid)
    version = (await _current_versions(uow, [qid]))[qid]
    order = display.display_order(version.content, None)
    response = _internal(version.content, order, answer)
    fraction = score(version.content, response)
    now = utcnow()
    question = (await content.get_questions(uow, [qid]))[0]
    log: list[AnswerRecorded] = []
    note = await _record_answer(
        uow,
        user_id=principal.user_id,
        certification=row.certification_code,
        version=version,
        subject=question.subject_code,
        context="practice",
        fraction=fraction,
        elapsed_ms=elapsed_ms,
        clear_after=clear_after,
        now=now,
        response=response,
        practice=(row.id, position),
        log=log,
    )
    record_event(
        uow.session, ANSWERS_RECORDED, AnswersRecorded(answers=tuple(log)).model_dump(mode="json")
    )
    due = await _review(
        uow, principal.user_id, row.certification_code, qid, fraction >= 1.0, elapsed_ms, now
    )
    row.answered += 1
    row.correct += int(fraction >= 1.0)
    return Feedback(
        correct=fraction >= 1.0,
        fraction=fraction,
        key={
            **key_of(version.content),
            "display": list(display.key_display(version.content, order)),
        },
        explanation=version.content.explanation,
        your_answer=answer,
        next_position=position + 1 if position + 1 < len(row.question_ids) else None,
        wrong_note=note,
        next_review_at=due,
    )


async def practice_summary(
    uow: UnitOfWork, principal: Principal, session_id: str
) -> PracticeSummary:
    """What I answered in a run (the first answer at each position counts: a second try
    after seeing the key is not a fresh answer), my score and the time I spent."""
    row = await _practice_session(uow, principal, session_id)
    first: dict[int, AnswerRecord] = {}
    for record in await repo.run_answers(uow.session, row.id):
        if record.position is not None:
            first.setdefault(record.position, record)
    locked = await locked_questions(uow, principal, [r.question_id for r in first.values()])
    shown = [first[p] for p in sorted(first) if first[p].question_id not in locked]
    versions = await _versions(uow, [r.version_id for r in shown])
    answers = []
    for record in shown:
        version = versions[record.version_id]
        response = _response(record.response)
        order = display.display_order(version.content, None)
        answers.append(
            RunAnswer(
                position=record.position or 0,
                question_id=record.question_id,
                stem=display.media_url(row.certification_code, version.content.stem),
                your_answer=display.to_display(version.content, order, response)
                if response
                else None,
                correct=record.correct,
                elapsed_ms=record.elapsed_ms,
            )
        )
    return PracticeSummary(
        session=_session_out(row),
        answers=tuple(answers),
        answered=len(answers),
        correct=sum(1 for a in answers if a.correct),
        elapsed_ms=sum(a.elapsed_ms for a in answers),
        withheld=len(first) - len(shown),
    )


async def practice_run(
    uow: UnitOfWork,
    principal: Principal,
    certification: str,
    question_ids: Sequence[str],
    *,
    mode: str = "retry",
    empty_message: str | None = None,
) -> PracticeSessionOut:
    """A run over exactly these questions (in this order), less any an open exam locks and
    any no longer published; a Conflict when none is left."""
    ids = list(dict.fromkeys(question_ids))
    locked = await locked_questions(uow, principal, ids)
    published = await _current_versions(uow, ids)
    ids = [q for q in ids if q not in locked and q in published]
    if not ids:
        raise Conflict(ALL_LOCKED_MESSAGE if locked else (empty_message or NOTHING_WRONG_MESSAGE))
    row = PracticeSession(
        user_id=principal.user_id,
        certification_code=certification,
        mode=mode,
        subject_code=None,
        topic_code=None,
        question_ids=ids,
        answered=0,
        correct=0,
        created_at=utcnow(),
    )
    uow.session.add(row)
    await uow.session.flush()
    return _session_out(row)


NOTHING_WRONG_MESSAGE = "No question was answered wrongly here, so there is nothing to retry."


async def retry_wrong_of_run(
    uow: UnitOfWork, principal: Principal, session_id: str
) -> PracticeSessionOut:
    """A new run over exactly the questions I got wrong (first answer) in this run."""
    summary = await practice_summary(uow, principal, session_id)
    wrong = [a.question_id for a in summary.answers if not a.correct]
    return await practice_run(uow, principal, summary.session.certification, wrong)


async def retry_wrong_of_attempt(
    uow: UnitOfWork, principal: Principal, attempt_id: str
) -> PracticeSessionOut:
    """A practice run over the questions answered wrongly in a submitted attempt; refused
    (409) while the attempt is open, since keys are shown in practice."""
    attempt = await _owned_attempt(uow, principal, attempt_id)
    _attempt_result(attempt)  # Conflict while open
    items = await repo.attempt_items(uow.session, attempt.id)
    wrong = [i.question_id for i in items if i.response is not None and (i.fraction or 0) < 1]
    return await practice_run(uow, principal, attempt.certification_code, wrong)


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


async def studied_certifications(uow: UnitOfWork, principal: Principal) -> set[str]:
    """Certifications I have practised or sat a mock exam in."""
    return await repo.studied_certifications(uow.session, principal.user_id)


# ---- mock exams ------------------------------------------------------------------------------


def _remaining(deadline: datetime, now: datetime) -> float:
    return max(0.0, round((deadline - now).total_seconds(), 3))


async def start_attempt(
    uow: UnitOfWork,
    principal: Principal,
    *,
    blueprint_id: str | None = None,
    paper_id: str | None = None,
    rng: random.Random | None = None,
) -> AttemptView:
    """Freeze a form (exact versions, question and choice order) and start the clock."""
    rng = rng or random.SystemRandom()  # unpredictable draws and orders
    if (blueprint_id is None) == (paper_id is None):
        raise Invalid("Start an attempt from either a blueprint or a past paper.")
    now = utcnow()
    sections: list[dict[str, Any]] = []
    drawn: list[DrawnItem]
    if blueprint_id:
        bp, drawn = await content.draw_blueprint(uow, blueprint_id, rng)
        certification, form_id, name = bp.certification_code, bp.id, bp.name
        total = timedelta(minutes=bp.time_limit_minutes)
        rule: PassRule = bp.pass_rule
        calculator, shuffle_q, shuffle_c = bp.calculator, bp.shuffle_questions, bp.shuffle_choices
        elapsed = timedelta()
        for s in bp.sections:
            deadline = None
            if s.time_limit_minutes:
                elapsed += timedelta(minutes=s.time_limit_minutes)
                deadline = (now + elapsed).isoformat()
            sections.append({"code": s.code, "name": s.name, "deadline_at": deadline})
    else:
        assert paper_id is not None
        paper, drawn = await content.paper_form(uow, paper_id)
        certification, form_id, name = paper.certification_code, paper.id, paper.name
        total = timedelta(minutes=paper.time_limit_minutes)
        rule = paper.pass_rule
        calculator, shuffle_q, shuffle_c = False, False, True
        for item in paper.items:
            if all(s["code"] != item.section_code for s in sections):
                sections.append(
                    {"code": item.section_code, "name": item.section_name, "deadline_at": None}
                )
    if shuffle_q:
        # Shuffle within each section so sections keep their order.
        by_section: dict[str, list[DrawnItem]] = {}
        for d in drawn:
            by_section.setdefault(d.section_code, []).append(d)
        drawn = []
        for section in sections:
            group = by_section.get(section["code"], [])
            rng.shuffle(group)
            drawn += group
    versions = await _versions(uow, [d.version_id for d in drawn])
    # A practice answer that checked the lock before this attempt existed has committed
    # before the attempt becomes visible (see `answer_practice`).
    await repo.lock_learner(uow.session, principal.user_id)
    attempt = Attempt(
        id=new_id(),
        user_id=principal.user_id,
        certification_code=certification,
        form_kind="blueprint" if blueprint_id else "paper",
        form_id=form_id,
        form_name=name,
        status="open",
        started_at=now,
        deadline_at=now + total,
        calculator=calculator,
        pass_rule=rule.model_dump(mode="json"),
        sections=sections,
        question_count=len(drawn),
        unanswered=len(drawn),
    )
    uow.session.add(attempt)
    await uow.session.flush()
    items = [
        _NewItem(
            position=n,
            question_id=d.question_id,
            version_id=d.version_id,
            section_code=d.section_code,
            points=d.points,
            display_order=display.display_order(
                versions[d.version_id].content, rng if shuffle_c else None
            ),
        )
        for n, d in enumerate(drawn, 1)
    ]
    # One statement without per-object bookkeeping, and the reply is built from the same
    # values instead of reading the 100 rows back.
    await repo.insert_items(uow.session, attempt.id, items)
    record_event(
        uow.session,
        "certplatform.learning.attempt.started.v1",
        {
            "attempt_id": attempt.id,
            "user_id": principal.user_id,
            "certification": certification,
            "form": name,
            "form_kind": attempt.form_kind,
            "form_id": form_id,
            "started_at": now.isoformat(),
            "deadline_at": attempt.deadline_at.isoformat(),
        },
    )
    ATTEMPTS_STARTED.inc()
    return _attempt_view(attempt, items, versions)


@dataclass(frozen=True)
class _NewItem:
    """An item as a fresh start writes it: no answer, no flag."""

    position: int
    question_id: str
    version_id: str
    section_code: str
    points: float
    display_order: list[str]
    response: dict[str, Any] | None = None
    flagged: bool = False


async def _owned_attempt(uow: UnitOfWork, principal: Principal, attempt_id: str) -> Attempt:
    attempt = await uow.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != principal.user_id:
        raise NotFound("No such attempt.")
    return attempt


def _clocks(attempt: Attempt, now: datetime) -> tuple[SectionClock, ...]:
    clocks = []
    for s in attempt.sections:
        deadline = datetime.fromisoformat(s["deadline_at"]) if s.get("deadline_at") else None
        clocks.append(
            SectionClock(
                code=s["code"],
                name=s["name"],
                deadline_at=deadline,
                remaining_seconds=_remaining(deadline, now) if deadline else None,
            )
        )
    return tuple(clocks)


async def attempt_view(uow: UnitOfWork, principal: Principal, attempt_id: str) -> AttemptView:
    """The attempt as the learner sees it (from any device): questions, own answers, clock."""
    attempt = await _owned_attempt(uow, principal, attempt_id)
    items = await repo.attempt_items(uow.session, attempt.id)
    versions = await _versions(uow, [i.version_id for i in items])
    return _attempt_view(attempt, items, versions)


def _attempt_view(
    attempt: Attempt,
    items: Sequence[AttemptItem] | Sequence[_NewItem],
    versions: dict[str, VersionOut],
) -> AttemptView:
    now = utcnow()
    views = []
    for item in items:
        version = versions[item.version_id]
        response = _response(item.response)
        views.append(
            AttemptItemView(
                position=item.position,
                section_code=item.section_code,
                points=item.points,
                question=display.view(
                    version, item.display_order, attempt.certification_code, item.section_code
                ),
                answer=display.to_display(version.content, item.display_order, response)
                if response
                else None,
                flagged=item.flagged,
            )
        )
    return AttemptView(
        id=attempt.id,
        status="open" if attempt.status == "open" else "submitted",
        certification=attempt.certification_code,
        form_name=attempt.form_name,
        calculator=attempt.calculator,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        server_time=now,
        remaining_seconds=_remaining(attempt.deadline_at, now) if attempt.status == "open" else 0.0,
        sections=_clocks(attempt, now),
        question_count=attempt.question_count,
        unanswered=tuple(i.position for i in items if i.response is None),
        items=tuple(views),
    )


async def save_answer(
    uow: UnitOfWork,
    principal: Principal,
    attempt_id: str,
    position: int,
    op: SaveAnswer,
    *,
    grace_seconds: float,
) -> SaveAck:
    """Save one answer (or flag) idempotently: the same op id is applied once; among
    different ops the highest `op_seq` wins, whatever order they arrive in."""
    # Header, earlier operation and item come in one query; the checks keep their order.
    header = await repo.save_context(uow.session, attempt_id, op.op_id, position)
    if header is None or header.user_id != principal.user_id:
        raise NotFound("No such attempt.")
    now = utcnow()
    if header.op_position is not None:
        if header.op_position != position:
            raise Conflict(
                N_("Operation %(op)s was used for question %(position)s."),
                op=op.op_id,
                position=header.op_position,
            )
        return SaveAck(
            position=position,
            op_id=op.op_id,
            applied=header.op_applied,
            saved_at=header.op_at,
            remaining_seconds=_remaining(header.deadline_at, now),
            unanswered_count=await repo.unanswered_count(uow.session, attempt_id),
        )
    if header.status != "open":
        raise Conflict("This attempt has been submitted; answers can no longer change.")
    if now > header.deadline_at + timedelta(seconds=grace_seconds):
        raise Conflict("Time is up: the exam ended at the deadline, so this answer was not saved.")
    if header.item_version_id is None:
        raise NotFound(N_("The attempt has no question %(position)s."), position=position)
    section = next((s for s in header.sections if s["code"] == header.item_section_code), None)
    if section and section.get("deadline_at"):
        section_deadline = datetime.fromisoformat(section["deadline_at"])
        if now > section_deadline + timedelta(seconds=grace_seconds):
            raise Conflict(
                N_("Time is up for section %(section)s; its answers are final."),
                section=section["name"],
            )
    values: dict[str, Any] = {}
    stored: dict[str, Any] | None = None
    if op.answer is not None:
        version_id = header.item_version_id
        version = (await _versions(uow, [version_id]))[version_id]
        response = _internal(version.content, header.item_display_order, op.answer)
        stored = None if response.is_blank() else response.model_dump(mode="json")
        values["response"] = stored
    if op.flagged is not None:
        values["flagged"] = op.flagged
    if values:
        values["op_id"] = op.op_id
    # Time on a question cannot exceed the time since the attempt started.
    elapsed = min(op.elapsed_ms, int((now - header.started_at).total_seconds() * 1000))
    applied = await repo.apply_answer(uow.session, attempt_id, position, op.op_seq, values, elapsed)
    if applied is None:
        # Submitted since the check above (the write found it closed; nothing was written),
        # unless a request with the same op id was acknowledged first.
        recorded = await repo.recorded_operation(uow.session, attempt_id, op.op_id)
        if recorded is None:
            raise Conflict("This attempt has been submitted; answers can no longer change.")
        return _replayed(recorded, position, op.op_id, header.deadline_at, now)
    unanswered_count = await repo.record_operation(
        uow.session,
        {
            "attempt_id": attempt_id,
            "op_id": op.op_id,
            "position": position,
            "op_seq": op.op_seq,
            "response": stored,
            "flagged": op.flagged,
            "applied": applied,
            "at": now,
        },
    )
    if unanswered_count is None:
        # A request with the same op id was recorded meanwhile (a retry racing its original).
        recorded = await repo.settle_duplicate(
            uow.session, attempt_id, op.op_id, position, elapsed, applied
        )
        return _replayed(recorded, position, op.op_id, header.deadline_at, now)
    return SaveAck(
        position=position,
        op_id=op.op_id,
        applied=applied,
        saved_at=now,
        remaining_seconds=_remaining(header.deadline_at, now),
        unanswered_count=unanswered_count,
    )


def _replayed(
    recorded: repo.Recorded, position: int, op_id: str, deadline: datetime, now: datetime
) -> SaveAck:
    """The reply to an operation already recorded under its id: what it was told then."""
    if recorded.position != position:
        raise Conflict(
            N_("Operation %(op)s was used for question %(position)s."),
            op=op_id,
            position=recorded.position,
        )
    return SaveAck(
        position=position,
        op_id=op_id,
        applied=recorded.applied,
        saved_at=recorded.at,
        remaining_seconds=_remaining(deadline, now),
        unanswered_count=recorded.unanswered,
    )


async def unanswered(uow: UnitOfWork, principal: Principal, attempt_id: str) -> list[int]:
    await _owned_attempt(uow, principal, attempt_id)
    return [
        i.position for i in await repo.attempt_items(uow.session, attempt_id) if i.response is None
    ]


async def record_integrity_event(
    uow: UnitOfWork,
    principal: Principal,
    attempt_id: str,
    kind: str,
    detail: dict[str, Any],
    *,
    limit: RateLimit,
) -> None:
    """Store a focus-lost / page-hidden / paste report with the attempt and audit it.

    `limit` counts reports per attempt: each is stored twice (attempt events, outbox) and
    lands in the audit log, so a script must not be able to flood them."""
    attempt = await _owned_attempt(uow, principal, attempt_id)
    await limit.hit(
        attempt.id,
        f"Too many integrity reports for this attempt (at most {limit.rate}); "
        "wait and send them again.",
    )
    now = utcnow()
    uow.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, detail=detail, at=now))
    record_event(
        uow.session,
        "certplatform.learning.attempt.integrity.v1",
        {"attempt_id": attempt.id, "user_id": principal.user_id, "kind": kind, "detail": detail},
    )


def _graded_by(item: AttemptItem) -> str:
    """The version whose key grades the item: the one shown, unless a regrade moved on."""
    return item.graded_version_id or item.version_id


def _grade(
    attempt: Attempt, items: Sequence[AttemptItem], versions: dict[str, VersionOut]
) -> tuple[ExamResult, list[float]]:
    results, fractions = [], []
    for item in items:
        response = _response(item.response)
        fraction = score(versions[_graded_by(item)].content, response) if response else 0.0
        fractions.append(fraction)
        results.append(
            ItemResult.from_fraction(str(item.position), item.section_code, item.points, fraction)
        )
    sections = [(s["code"], s["name"]) for s in attempt.sections]
    return grade_exam(results, sections, PassRule.model_validate(attempt.pass_rule)), fractions


def _result_json(exam: ExamResult, unanswered_count: int) -> dict[str, Any]:
    return {
        "percent": exam.percent,
        "section_average": exam.section_average,
        "correct_count": exam.correct_count,
        "question_count": exam.question_count,
        "earned": exam.earned,
        "total_points": exam.total_points,
        "passed": exam.passed,
        "reasons": [render_reason(r, "ko") for r in exam.reasons],
        "reasons_en": [render_reason(r, "en") for r in exam.reasons],
        "unanswered_count": unanswered_count,
        "sections": [
            {
                "code": s.code,
                "name": s.name,
                "points": s.points,
                "earned": s.earned,
                "percent": s.percent,
                "correct_count": s.correct_count,
                "question_count": s.question_count,
                "below_floor": s.below_floor,
            }
            for s in exam.sections
        ],
    }


async def hold_for_submit(uow: UnitOfWork, attempt_id: str) -> None:
    """Lock the attempt before a transaction that saves answers and then submits: its saves
    would otherwise hold the share lock a concurrent save holds too, and its submit would
    wait for that save while the save waits for an item this transaction wrote."""
    await repo.lock_attempt(uow.session, attempt_id)


async def submit_attempt(
    uow: UnitOfWork,
    principal: Principal | None,
    attempt_id: str,
    *,
    by: str = "learner",
    clear_after: int = 2,
) -> AttemptResult:
    """Submit and grade. Concurrent submits grade once; a repeated submit returns the result."""
    attempt = await uow.session.get(Attempt, attempt_id)
    if attempt is None or (principal is not None and attempt.user_id != principal.user_id):
        raise NotFound("No such attempt.")
    now = utcnow()
    if await repo.claim_submit(uow.session, attempt_id, now, by):
        grading_started = time.perf_counter()
        await uow.session.refresh(attempt)
        items = await repo.attempt_items(uow.session, attempt_id)
        versions = await _versions(uow, [i.version_id for i in items])
        exam, fractions = _grade(attempt, items, versions)
        blank = sum(1 for i in items if i.response is None)
        for item, fraction in zip(items, fractions, strict=True):
            item.fraction = fraction
            item.earned = item.points * fraction
        attempt.result = _result_json(exam, blank)
        attempt.passed = exam.passed
        attempt.score_percent = exam.percent
        # One query for the notes of all answered questions instead of one per question
        # (each of which also flushed the answer record before it).
        notes = await repo.wrong_notes_for(
            uow.session,
            attempt.user_id,
            [versions[i.version_id].question_id for i in items if i.response is not None],
        )
        log: list[AnswerRecorded] = []
        for item, fraction in zip(items, fractions, strict=True):
            if item.response is not None:
                await _record_answer(
                    uow,
                    user_id=attempt.user_id,
                    certification=attempt.certification_code,
                    version=versions[item.version_id],
                    subject=item.section_code,
                    context="exam",
                    fraction=fraction,
                    elapsed_ms=item.time_ms,
                    clear_after=clear_after,
                    now=now,
                    notes=notes,
                    response=_response(item.response),
                    log=log,
                )
        await uow.session.flush()
        record_event(
            uow.session,
            "certplatform.learning.attempt.submitted.v1",
            {
                "attempt_id": attempt.id,
                "user_id": attempt.user_id,
                "by": by,
                "percent": exam.percent,
                "passed": exam.passed,
                "unanswered": blank,
            },
        )
        if log:
            record_event(
                uow.session,
                ANSWERS_RECORDED,
                AnswersRecorded(answers=tuple(log)).model_dump(mode="json"),
            )
        record_event(uow.session, ATTEMPT_GRADED, _graded_event(attempt).model_dump(mode="json"))
        GRADING.observe(time.perf_counter() - grading_started)
        ATTEMPTS_SUBMITTED.labels(by).inc()
    else:
        await uow.session.refresh(attempt)
    return _attempt_result(attempt)


def _graded_event(attempt: Attempt) -> AttemptGraded:
    """The attempt's current score as an analytics event (after a submit or a regrade)."""
    result = attempt.result or {}
    regrade = result.get("regrade")
    assert attempt.submitted_at is not None
    return AttemptGraded(
        attempt_id=attempt.id,
        user_id=attempt.user_id,
        certification=attempt.certification_code,
        form_kind=attempt.form_kind,
        form_id=attempt.form_id,
        form_name=attempt.form_name,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        percent=float(result.get("percent", 0.0)),
        passed=bool(result.get("passed", False)),
        sections={s["code"]: float(s["percent"]) for s in result.get("sections", [])},
        regraded_at=attempt.regraded_at,
        previous_percent=regrade["previous_percent"] if regrade else None,
        previous_passed=regrade["previous_passed"] if regrade else None,
    )


def _attempt_result(attempt: Attempt) -> AttemptResult:
    result = attempt.result
    if attempt.status != "submitted" or result is None or attempt.submitted_at is None:
        raise Conflict("The attempt is still open; submit it first.")
    return AttemptResult(
        attempt_id=attempt.id,
        certification=attempt.certification_code,
        form_name=attempt.form_name,
        submitted_at=attempt.submitted_at,
        submitted_by=attempt.submitted_by or "learner",
        unanswered_count=result["unanswered_count"],
        percent=result["percent"],
        section_average=result["section_average"],
        correct_count=result["correct_count"],
        question_count=result["question_count"],
        earned=result["earned"],
        total_points=result["total_points"],
        passed=result["passed"],
        reasons=tuple(result["reasons"]),
        reasons_en=tuple(result["reasons_en"]),
        pass_rule=attempt.pass_rule,
        sections=tuple(SectionScore(**s) for s in result["sections"]),
        regraded_at=attempt.regraded_at,
    )


async def attempt_result(uow: UnitOfWork, principal: Principal, attempt_id: str) -> AttemptResult:
    return _attempt_result(await _owned_attempt(uow, principal, attempt_id))


async def attempt_review(uow: UnitOfWork, principal: Principal, attempt_id: str) -> AttemptReview:
    """After submission: every question with my answer, the key, the explanation, my time,
    and how often I changed an answer (and a right one to a wrong one)."""
    attempt = await _owned_attempt(uow, principal, attempt_id)
    result = _attempt_result(attempt)
    items = await repo.attempt_items(uow.session, attempt.id)
    if await locked_questions(uow, principal, [i.question_id for i in items]):
        raise Conflict(REVIEW_LOCKED_MESSAGE)
    versions = await _versions(uow, [v for i in items for v in {i.version_id, _graded_by(i)}])
    history: dict[int, list[Response | None]] = {}
    for op in await repo.operations_of(uow.session, attempt.id):
        if op.response is not None or op.flagged is None:
            history.setdefault(op.position, []).append(_response(op.response))
    review_items = []
    right_to_wrong_total = 0
    for item in items:
        version = versions[item.version_id]
        # The question as shown; the key and explanation of the version that graded it.
        c = versions[_graded_by(item)].content
        responses = history.get(item.position, [])
        scores = [score(c, r) if r else 0.0 for r in responses]
        changes = max(0, len(responses) - 1)
        right_to_wrong = sum(1 for a, b in pairwise(scores) if a >= 1.0 > b)
        right_to_wrong_total += right_to_wrong
        response = _response(item.response)
        review_items.append(
            ReviewItem(
                position=item.position,
                section_code=item.section_code,
                question=display.view(
                    version, item.display_order, attempt.certification_code, item.section_code
                ),
                answer=display.to_display(c, item.display_order, response) if response else None,
                key=key_of(c),
                key_display=display.key_display(c, item.display_order),
                explanation=display.explanation(c, item.display_order),
                earned=item.earned or 0.0,
                points=item.points,
                correct=(item.fraction or 0.0) >= 1.0,
                time_ms=item.time_ms,
                changes=changes,
                right_to_wrong=right_to_wrong,
            )
        )
    return AttemptReview(
        result=result, items=tuple(review_items), right_to_wrong_total=right_to_wrong_total
    )


async def my_attempts(
    uow: UnitOfWork, principal: Principal, limit: int = 20
) -> list[AttemptSummary]:
    return [
        AttemptSummary(
            id=a.id,
            certification=a.certification_code,
            form_name=a.form_name,
            status=a.status,
            started_at=a.started_at,
            deadline_at=a.deadline_at,
            passed=a.passed,
            percent=a.score_percent,
        )
        for a in await repo.attempts_of(uow.session, principal.user_id, limit)
    ]


async def expired_attempts(uow: UnitOfWork, grace_seconds: float) -> list[str]:
    """Open attempts whose deadline (plus grace) has passed."""
    return await repo.expired_attempt_ids(uow.session, utcnow() - timedelta(seconds=grace_seconds))


# ---- regrading ---------------------------------------------------------------------------------


async def regrade(
    uow: UnitOfWork, question_id: str, *, apply: bool, actor: Principal | None
) -> RegradeReport:
    """Re-grade submitted attempts that showed an older version of a question against its
    current version. A dry run (apply=False) reports what would change and writes nothing."""
    current = (await _current_versions(uow, [question_id])).get(question_id)
    if current is None:
        raise NotFound("No such question.")
    affected = await repo.items_with_question(uow.session, question_id, current.id)
    attempts = await repo.attempts_by_id(uow.session, sorted({i.attempt_id for i in affected}))
    changes = []
    now = utcnow()
    for attempt in attempts:
        items = await repo.attempt_items(uow.session, attempt.id)
        versions = await _versions(uow, [_graded_by(i) for i in items])
        for i in items:
            if i.question_id == question_id:
                versions[_graded_by(i)] = current
        exam, fractions = _grade(attempt, items, versions)
        old = attempt.result or {}
        change = RegradeChange(
            attempt_id=attempt.id,
            user_id=attempt.user_id,
            old_percent=float(old.get("percent", 0.0)),
            new_percent=exam.percent,
            old_passed=bool(old.get("passed", False)),
            new_passed=exam.passed,
        )
        if change.old_percent != change.new_percent or change.old_passed != change.new_passed:
            changes.append(change)
        if apply:
            for item, fraction in zip(items, fractions, strict=True):
                item.fraction = fraction
                item.earned = item.points * fraction
                if item.question_id == question_id:
                    item.graded_version_id = current.id
            blank = sum(1 for i in items if i.response is None)
            attempt.result = {
                **_result_json(exam, blank),
                "regrade": {
                    "question_id": question_id,
                    "to_version": current.number,
                    "previous_percent": change.old_percent,
                    "previous_passed": change.old_passed,
                    "at": now.isoformat(),
                },
            }
            attempt.passed = exam.passed
            attempt.score_percent = exam.percent
            attempt.regraded_at = now
            record_event(
                uow.session, ATTEMPT_REGRADED, _graded_event(attempt).model_dump(mode="json")
            )
    if apply:
        await uow.session.flush()
        record_event(
            uow.session,
            "certplatform.learning.regrade.applied.v1",
            {
                "question_id": question_id,
                "to_version": current.number,
                "attempts": len(attempts),
                "changed": len(changes),
                "actor": actor.user_id if actor else None,
            },
        )
    return RegradeReport(
        question_id=question_id,
        to_version=current.number,
        attempts=len(attempts),
        changes=tuple(changes),
        applied=apply,
    )


def utc_today() -> date:
    return datetime.now(UTC).date()
