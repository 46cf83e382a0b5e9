"""Practice runs: starting them, one question at a time, graded answers, summaries, retries."""

from __future__ import annotations

import random
from collections.abc import Sequence

from certplatform.content import service as content
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import N_, Conflict, NotFound
from certplatform.kernel.events import record_event
from certplatform.learning import display
from certplatform.learning import repository as repo
from certplatform.learning.contracts import (
    ANSWERS_RECORDED,
    PRACTICE_STARTED,
    AnswerRecorded,
    AnswersRecorded,
    Feedback,
    PracticeQuestion,
    PracticeSessionOut,
    PracticeStart,
    PracticeStarted,
    PracticeSummary,
    ResponseIn,
    RunAnswer,
)
from certplatform.learning.exams import _attempt_result, _owned_attempt
from certplatform.learning.grading import key_of, score
from certplatform.learning.models import AnswerRecord, Bookmark, PracticeSession, WrongNote
from certplatform.learning.remediation import _record_answer, _review
from certplatform.learning.shared import (
    ALL_LOCKED_MESSAGE,
    _current_versions,
    _ensure_unlocked,
    _internal,
    _response,
    _versions,
    locked_questions,
)

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


async def studied_certifications(uow: UnitOfWork, principal: Principal) -> set[str]:
    """Certifications I have practised or sat a mock exam in."""
    return await repo.studied_certifications(uow.session, principal.user_id)
