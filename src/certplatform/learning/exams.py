"""Mock exams: start, view, save, submit, grade, review, and regrading after a key changes."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from certplatform.content import service as content
from certplatform.content.contracts import DrawnItem, PassRule, VersionOut
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Invalid, NotFound
from certplatform.kernel.events import record_event
from certplatform.kernel.ratelimit import RateLimit
from certplatform.kernel.telemetry import ATTEMPTS_STARTED, ATTEMPTS_SUBMITTED, GRADING
from certplatform.learning import display
from certplatform.learning import repository as repo
from certplatform.learning.contracts import (
    ANSWERS_RECORDED,
    ATTEMPT_GRADED,
    ATTEMPT_REGRADED,
    AnswerRecorded,
    AnswersRecorded,
    AttemptGraded,
    AttemptItemView,
    AttemptResult,
    AttemptReview,
    AttemptSummary,
    AttemptView,
    RegradeChange,
    RegradeReport,
    ReviewItem,
    SaveAck,
    SaveAnswer,
    SectionClock,
    SectionScore,
)
from certplatform.learning.grading import (
    ExamResult,
    ItemResult,
    Response,
    grade_exam,
    key_of,
    render_reason,
    score,
)
from certplatform.learning.models import Attempt, AttemptEvent, AttemptItem
from certplatform.learning.remediation import _record_answer
from certplatform.learning.shared import (
    REVIEW_LOCKED_MESSAGE,
    _current_versions,
    _internal,
    _response,
    _versions,
    locked_questions,
)

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
    return await start_for(
        uow, principal.user_id, blueprint_id=blueprint_id, paper_id=paper_id, rng=rng
    )


async def start_for(
    uow: UnitOfWork,
    user_id: str,
    *,
    blueprint_id: str | None = None,
    paper_id: str | None = None,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> AttemptView:
    """`start_attempt` for a learner by id, optionally at a given moment (a group exam
    starts every member's attempt with one clock; see `group.start_together`)."""
    rng = rng or random.SystemRandom()  # unpredictable draws and orders
    if (blueprint_id is None) == (paper_id is None):
        raise Invalid("Start an attempt from either a blueprint or a past paper.")
    now = now or utcnow()
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
    await repo.lock_learner(uow.session, user_id)
    attempt = Attempt(
        id=new_id(),
        user_id=user_id,
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
            "user_id": user_id,
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
