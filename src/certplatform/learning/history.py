"""The learning log told as the analytics events it would have sent (for a backfill), and
the review load ahead. Part of the learning service's public face: returns contracts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from certplatform.content import service as content
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.learning import repository as repo
from certplatform.learning.contracts import AnswerRecorded, AttemptGraded, PracticeStarted
from certplatform.learning.models import Attempt
from certplatform.learning.service import _graded_event, _response


async def answers_after(uow: UnitOfWork, after: str, limit: int) -> list[AnswerRecorded]:
    """Answer records with an id greater than `after`, in id order. Practice answers logged
    before they carried a subject get their question's subject now."""
    rows = await repo.answer_page(uow.session, after, limit)
    missing = sorted({r.question_id for r in rows if r.subject_code is None})
    subjects = {q.id: q.subject_code for q in await content.get_questions(uow, missing)}
    out = []
    for r in rows:
        response = _response(r.response)
        out.append(
            AnswerRecorded(
                answer_id=r.id,
                user_id=r.user_id,
                certification=r.certification_code,
                question_id=r.question_id,
                version_id=r.version_id,
                subject=r.subject_code or subjects.get(r.question_id),
                context=r.context,
                correct=r.correct,
                fraction=r.fraction,
                elapsed_ms=r.elapsed_ms,
                answered_at=r.answered_at,
                choice_ids=response.choice_ids if response is not None else (),
            )
        )
    return out


def attempt_started(attempt: Attempt) -> dict[str, str]:
    return {
        "attempt_id": attempt.id,
        "user_id": attempt.user_id,
        "certification": attempt.certification_code,
        "form": attempt.form_name,
        "form_kind": attempt.form_kind,
        "form_id": attempt.form_id,
        "started_at": attempt.started_at.isoformat(),
        "deadline_at": attempt.deadline_at.isoformat(),
    }


async def attempts_after(
    uow: UnitOfWork, after: str, limit: int
) -> list[tuple[str, dict[str, str], AttemptGraded | None]]:
    """(id, the started event's payload, the latest graded event or None while open)."""
    rows = await repo.attempt_page(uow.session, after, limit)
    return [
        (
            a.id,
            attempt_started(a),
            _graded_event(a) if a.status == "submitted" and a.result is not None else None,
        )
        for a in rows
    ]


async def practice_runs_after(uow: UnitOfWork, after: str, limit: int) -> list[PracticeStarted]:
    return [
        PracticeStarted(
            session_id=p.id,
            user_id=p.user_id,
            certification=p.certification_code,
            mode=p.mode,
            subject=p.subject_code,
            size=len(p.question_ids),
            started_at=p.created_at,
        )
        for p in await repo.practice_page(uow.session, after, limit)
    ]


async def review_forecast(
    uow: UnitOfWork, principal: Principal, certification: str | None, days: int, zone: ZoneInfo
) -> list[tuple[date, int]]:
    """Cards falling due on each of the next `days` local days; today includes the overdue
    ones (they are due now), as Anki's forecast does."""
    now = utcnow()
    today = now.astimezone(zone).date()
    end = datetime.combine(today + timedelta(days=days), datetime.min.time(), zone)
    counts = [0] * days
    for due in await repo.due_dates(uow.session, principal.user_id, certification, end):
        offset = max(0, (due.astimezone(zone).date() - today).days)
        if offset < days:
            counts[offset] += 1
    return [(today + timedelta(days=n), c) for n, c in enumerate(counts)]
