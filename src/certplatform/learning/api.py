"""Learning REST routes under /api/v1: practice, remediation, mock exams, regrading."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from certplatform.kernel.auth import Principal, UoW, require, signed_in
from certplatform.kernel.bounds import TEXT_LENGTH, Code, Id, Position
from certplatform.kernel.errors import Invalid
from certplatform.kernel.settings import Settings
from certplatform.learning import service
from certplatform.learning.contracts import (
    AttemptResult,
    AttemptReview,
    AttemptStart,
    AttemptSummary,
    AttemptView,
    BookmarkOut,
    DueCard,
    Feedback,
    IntegrityEventIn,
    LearningSettings,
    PracticeQuestion,
    PracticeSessionOut,
    PracticeStart,
    RegradeReport,
    ResponseIn,
    SaveAck,
    SaveAnswer,
    WrongNoteOut,
)

router = APIRouter(prefix="/api/v1", tags=["learning"])
Practice = Annotated[Principal | None, Depends(require("practice", "use"))]
Remediation = Annotated[Principal | None, Depends(require("remediation", "use"))]
Exam = Annotated[Principal | None, Depends(require("attempt", "use"))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class PracticeAnswer(BaseModel):
    answer: ResponseIn
    elapsed_ms: int = Field(default=0, ge=0, le=24 * 3600 * 1000)


class Memo(BaseModel):
    memo: str = Field(max_length=TEXT_LENGTH)


class Unanswered(BaseModel):
    positions: list[int]
    count: int


class Regrade(BaseModel):
    question_id: Id
    apply: bool = False


# Practice


@router.post("/practice/sessions", response_model=PracticeSessionOut, status_code=201)
async def start_practice(body: PracticeStart, uow: UoW, principal: Practice) -> PracticeSessionOut:
    return await service.start_practice(uow, signed_in(principal), body)


@router.get("/practice/sessions/{session_id}/questions/{position}", response_model=PracticeQuestion)
async def practice_question(
    session_id: Id, position: Position, uow: UoW, principal: Practice
) -> PracticeQuestion:
    return await service.practice_question(uow, signed_in(principal), session_id, position)


@router.post("/practice/sessions/{session_id}/questions/{position}/answer", response_model=Feedback)
async def answer_practice(
    session_id: Id,
    position: Position,
    body: PracticeAnswer,
    request: Request,
    uow: UoW,
    principal: Practice,
) -> Feedback:
    return await service.answer_practice(
        uow,
        signed_in(principal),
        session_id,
        position,
        body.answer,
        body.elapsed_ms,
        clear_after=_settings(request).wrong_note_clear_after,
    )


# Remediation


@router.get("/bookmarks", response_model=list[BookmarkOut])
async def bookmarks(
    uow: UoW, principal: Remediation, certification: Code | None = None
) -> list[BookmarkOut]:
    return await service.bookmarks(uow, signed_in(principal), certification)


@router.put("/bookmarks/{question_id}", status_code=204)
async def add_bookmark(question_id: Id, uow: UoW, principal: Remediation) -> None:
    await service.set_bookmark(uow, signed_in(principal), question_id, True)


@router.delete("/bookmarks/{question_id}", status_code=204)
async def remove_bookmark(question_id: Id, uow: UoW, principal: Remediation) -> None:
    await service.set_bookmark(uow, signed_in(principal), question_id, False)


@router.get("/wrong-notes", response_model=list[WrongNoteOut])
async def wrong_notes(
    uow: UoW, principal: Remediation, certification: Code | None = None
) -> list[WrongNoteOut]:
    return await service.wrong_notes(uow, signed_in(principal), certification)


@router.put("/wrong-notes/{question_id}/memo", status_code=204)
async def set_memo(question_id: Id, body: Memo, uow: UoW, principal: Remediation) -> None:
    await service.set_memo(uow, signed_in(principal), question_id, body.memo)


@router.delete("/wrong-notes/{question_id}", status_code=204)
async def remove_wrong_note(question_id: Id, uow: UoW, principal: Remediation) -> None:
    await service.remove_wrong_note(uow, signed_in(principal), question_id)


@router.get("/reviews/due", response_model=list[DueCard])
async def due_reviews(
    uow: UoW,
    principal: Remediation,
    certification: Code | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DueCard]:
    return await service.due_reviews(uow, signed_in(principal), certification, limit)


@router.get("/learning/settings", response_model=LearningSettings)
async def get_settings(uow: UoW, principal: Remediation) -> LearningSettings:
    return await service.get_settings(uow, signed_in(principal))


@router.put("/learning/settings", response_model=LearningSettings)
async def put_settings(
    body: LearningSettings, uow: UoW, principal: Remediation
) -> LearningSettings:
    return await service.update_settings(uow, signed_in(principal), body)


# Mock exams


@router.post("/attempts", response_model=AttemptView, status_code=201)
async def start_attempt(body: AttemptStart, uow: UoW, principal: Exam) -> AttemptView:
    return await service.start_attempt(
        uow, signed_in(principal), blueprint_id=body.blueprint_id, paper_id=body.paper_id
    )


@router.get("/attempts", response_model=list[AttemptSummary])
async def my_attempts(
    uow: UoW, principal: Exam, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[AttemptSummary]:
    return await service.my_attempts(uow, signed_in(principal), limit)


@router.get("/attempts/{attempt_id}", response_model=AttemptView)
async def attempt(attempt_id: Id, uow: UoW, principal: Exam) -> AttemptView:
    return await service.attempt_view(uow, signed_in(principal), attempt_id)


@router.put("/attempts/{attempt_id}/answers/{position}", response_model=SaveAck)
async def save_answer(
    attempt_id: Id,
    position: Position,
    body: SaveAnswer,
    request: Request,
    uow: UoW,
    principal: Exam,
) -> SaveAck:
    if body.answer is None and body.flagged is None:
        raise Invalid("Send an answer, a flag, or both.")
    return await service.save_answer(
        uow,
        signed_in(principal),
        attempt_id,
        position,
        body,
        grace_seconds=_settings(request).answer_grace_seconds,
    )


@router.get("/attempts/{attempt_id}/unanswered", response_model=Unanswered)
async def unanswered(attempt_id: Id, uow: UoW, principal: Exam) -> Unanswered:
    positions = await service.unanswered(uow, signed_in(principal), attempt_id)
    return Unanswered(positions=positions, count=len(positions))


@router.post("/attempts/{attempt_id}/events", status_code=204)
async def integrity_event(
    attempt_id: Id, body: IntegrityEventIn, request: Request, uow: UoW, principal: Exam
) -> None:
    await service.record_integrity_event(
        uow,
        signed_in(principal),
        attempt_id,
        body.kind.value,
        dict(body.detail),
        limit=request.app.state.integrity_limit,
    )


@router.post("/attempts/{attempt_id}/submit", response_model=AttemptResult)
async def submit(attempt_id: Id, request: Request, uow: UoW, principal: Exam) -> AttemptResult:
    return await service.submit_attempt(
        uow,
        signed_in(principal),
        attempt_id,
        clear_after=_settings(request).wrong_note_clear_after,
    )


@router.get("/attempts/{attempt_id}/result", response_model=AttemptResult)
async def result(attempt_id: Id, uow: UoW, principal: Exam) -> AttemptResult:
    return await service.attempt_result(uow, signed_in(principal), attempt_id)


@router.get("/attempts/{attempt_id}/review", response_model=AttemptReview)
async def review(attempt_id: Id, uow: UoW, principal: Exam) -> AttemptReview:
    return await service.attempt_review(uow, signed_in(principal), attempt_id)


# Regrading (admins)


@router.post("/regrade", response_model=RegradeReport)
async def regrade(
    body: Regrade,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("regrade", "run"))],
) -> RegradeReport:
    return await service.regrade(uow, body.question_id, apply=body.apply, actor=principal)
