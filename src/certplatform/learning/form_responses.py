"""The graded sittings of one exam form, item by item: what the form's item statistics
(analytics, ADR 32) are computed from. Read-only."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from certplatform.kernel.db import UnitOfWork
from certplatform.learning.contracts import FormAttempt, FormItemResponse
from certplatform.learning.models import Attempt, AttemptItem
from certplatform.learning.shared import _response

MAX_ATTEMPTS = 5_000  # the newest sittings; more adds nothing to the figures but time


async def form_attempts(
    uow: UnitOfWork, form_id: str, *, first_only: bool = True, limit: int = MAX_ATTEMPTS
) -> list[FormAttempt]:
    """Submitted attempts of the form, oldest first; with `first_only`, each learner's
    first sitting only (a retake after the review is not a fresh answer)."""
    attempts = list(
        (
            await uow.session.scalars(
                select(Attempt)
                .where(Attempt.form_id == form_id, Attempt.status == "submitted")
                .order_by(Attempt.submitted_at.desc(), Attempt.id)
                .limit(limit)
            )
        ).all()
    )
    attempts.reverse()
    if first_only:
        seen: set[str] = set()
        kept = []
        for a in attempts:
            if a.user_id not in seen:
                seen.add(a.user_id)
                kept.append(a)
        attempts = kept
    items: dict[str, list[AttemptItem]] = defaultdict(list)
    ids = [a.id for a in attempts]
    for start in range(0, len(ids), 500):
        chunk = await uow.session.scalars(
            select(AttemptItem)
            .where(AttemptItem.attempt_id.in_(ids[start : start + 500]))
            .order_by(AttemptItem.attempt_id, AttemptItem.position)
        )
        for item in chunk.all():
            items[item.attempt_id].append(item)
    out = []
    for a in attempts:
        if a.submitted_at is None:
            continue
        rows = []
        for i in items[a.id]:
            response = _response(i.response)
            rows.append(
                FormItemResponse(
                    position=i.position,
                    section_code=i.section_code,
                    question_id=i.question_id,
                    version_id=i.version_id,
                    points=i.points,
                    earned=i.earned or 0.0,
                    fraction=i.fraction or 0.0,
                    answered=i.response is not None,
                    choice_ids=tuple(response.choice_ids) if response is not None else (),
                    time_ms=i.time_ms,
                )
            )
        out.append(
            FormAttempt(
                attempt_id=a.id,
                user_id=a.user_id,
                submitted_at=a.submitted_at,
                percent=a.score_percent or 0.0,
                items=tuple(rows),
            )
        )
    return out
