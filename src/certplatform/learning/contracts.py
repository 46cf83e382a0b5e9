"""Shapes of the learning context's replies. A `QuestionView` never carries a key or an
explanation: it is what a learner may see before answering."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from certplatform.content.contracts import QuestionType
from certplatform.kernel.bounds import (
    CODE_LENGTH,
    INT64_MAX,
    TEXT_LENGTH,
    Code,
    Id,
)

# One answer text; a choice label ("1".."26") or a matching side.
Label = Annotated[str, StringConstraints(max_length=TEXT_LENGTH)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChoiceView(_Out):
    label: str  # "1".."n" as shown; mapped back to the choice on the server
    text: str


class QuestionView(_Out):
    question_id: str
    type: QuestionType
    stem: str
    choices: tuple[ChoiceView, ...] = ()
    match_left: tuple[str, ...] = ()
    match_right: tuple[str, ...] = ()
    subject_code: str | None = None


class ResponseIn(BaseModel):
    """A learner's answer in display terms: choice keys as shown, or a value/text/number."""

    model_config = ConfigDict(extra="forbid")

    choices: tuple[Annotated[str, StringConstraints(max_length=16)], ...] = Field(
        default=(), max_length=26
    )
    value: bool | None = None
    text: str | None = Field(default=None, max_length=TEXT_LENGTH)
    number: float | None = Field(default=None, allow_inf_nan=False)
    pairs: tuple[tuple[Label, Label], ...] = Field(default=(), max_length=50)


class PracticeStart(BaseModel):
    certification: Code
    mode: Literal["all", "wrong", "bookmarked", "due", "new"] = "all"
    order: Literal["sequential", "random"] = "sequential"
    subject: Code | None = None
    topic: Code | None = None
    limit: int = Field(default=20, ge=1, le=500)


class PracticeSessionOut(_Out):
    id: str
    certification: str
    mode: str
    total: int
    answered: int
    correct: int


class PracticeQuestion(_Out):
    session_id: str
    position: int
    total: int
    question: QuestionView
    bookmarked: bool
    in_wrong_note: bool
    mode: str = "all"  # how the session was chosen: "due" is a review, the rest practice


class Feedback(_Out):
    """The reply to a practice answer: right or wrong, the key, the explanation."""

    correct: bool
    fraction: float
    key: dict[str, Any]
    explanation: str
    your_answer: ResponseIn
    next_position: int | None
    wrong_note: Literal["added", "kept", "cleared", "none"]
    next_review_at: datetime


class BookmarkOut(_Out):
    question_id: str
    certification: str
    created_at: datetime
    stem: str


class WrongNoteOut(_Out):
    question_id: str
    certification: str
    stem: str
    memo: str
    wrong_count: int
    streak: int
    last_wrong_at: datetime


class WrongNoteDetail(WrongNoteOut):
    """A note with what the learner needs to study it: the question, the last wrong answer
    (in the canonical order of the question's current choices; None when not recorded),
    the key and the explanation."""

    subject: str | None
    question: QuestionView
    your_answer: ResponseIn | None
    key: dict[str, Any]
    key_display: tuple[str, ...]
    explanation: str


class RunAnswer(_Out):
    """One question answered in a practice run: the first answer counts."""

    position: int
    question_id: str
    stem: str
    your_answer: ResponseIn | None
    correct: bool
    elapsed_ms: int


class PracticeSummary(_Out):
    """What a practice run came to, for its end page. Questions locked by an open exam are
    left out (and counted in `withheld`), so their correctness is not told early."""

    session: PracticeSessionOut
    answers: tuple[RunAnswer, ...]
    answered: int
    correct: int
    elapsed_ms: int
    withheld: int


class DueCard(_Out):
    question_id: str
    certification: str
    due_at: datetime
    reviews: int
    stem: str


class LearningSettings(BaseModel):
    desired_retention: float = Field(default=0.9, ge=0.7, le=0.97)
    exam_dates: dict[Code, date] = Field(default_factory=dict, max_length=100)


class SectionClock(_Out):
    code: str
    name: str
    deadline_at: datetime | None
    remaining_seconds: float | None


class AttemptItemView(_Out):
    position: int
    section_code: str
    points: float
    question: QuestionView
    answer: ResponseIn | None
    flagged: bool


class AttemptView(_Out):
    """An attempt as the learner sees it while it is open: no keys, no explanations."""

    id: str
    status: Literal["open", "submitted"]
    certification: str
    form_name: str
    calculator: bool
    started_at: datetime
    deadline_at: datetime
    server_time: datetime
    remaining_seconds: float
    sections: tuple[SectionClock, ...]
    question_count: int
    unanswered: tuple[int, ...]
    items: tuple[AttemptItemView, ...]


class AttemptStart(BaseModel):
    blueprint_id: Id | None = None
    paper_id: Id | None = None


class SaveAnswer(BaseModel):
    op_id: str = Field(min_length=1, max_length=64, description="client operation id")
    # BIGINT column: a counter or Date.now() milliseconds both fit.
    op_seq: int = Field(
        ge=1, le=INT64_MAX, description="client operation order, 1..2^63-1; later wins"
    )
    answer: ResponseIn | None = None
    flagged: bool | None = None
    elapsed_ms: int = Field(default=0, ge=0, le=24 * 3600 * 1000)


class SaveAck(_Out):
    position: int
    op_id: str
    applied: bool
    saved_at: datetime
    remaining_seconds: float
    unanswered_count: int


INTEGRITY_DETAIL_BYTES = 2048
DetailKey = Annotated[str, StringConstraints(min_length=1, max_length=CODE_LENGTH)]
DetailValue = (
    Annotated[str, StringConstraints(max_length=500)]
    | Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
)


class IntegrityEventKind(StrEnum):
    FOCUS_LOST = "focus_lost"
    PAGE_HIDDEN = "page_hidden"
    PASTE = "paste"
    COPY = "copy"
    FULLSCREEN_EXIT = "fullscreen_exit"
    RESUME = "resume"


class IntegrityEventIn(BaseModel):
    """A client's report; stored twice (attempt events, outbox), so its size is bounded."""

    kind: IntegrityEventKind
    detail: dict[DetailKey, DetailValue] = Field(
        default_factory=dict,
        max_length=20,
        description=f"flat key/value pairs, at most {INTEGRITY_DETAIL_BYTES} bytes as JSON",
    )

    @field_validator("detail")
    @classmethod
    def _small(cls, detail: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(detail, ensure_ascii=False, allow_nan=False).encode())
        if size > INTEGRITY_DETAIL_BYTES:
            raise ValueError(
                f"detail is {size} bytes as JSON; at most {INTEGRITY_DETAIL_BYTES} are kept"
            )
        return detail


class SectionScore(_Out):
    code: str
    name: str
    points: float
    earned: float
    percent: float
    correct_count: int
    question_count: int
    below_floor: bool


class AttemptResult(_Out):
    """The graded result: scores per section, pass/fail and the reasons, in ko and en."""

    attempt_id: str
    certification: str
    form_name: str
    submitted_at: datetime
    submitted_by: str
    unanswered_count: int
    percent: float
    section_average: float
    correct_count: int
    question_count: int
    earned: float
    total_points: float
    passed: bool
    reasons: tuple[str, ...]
    reasons_en: tuple[str, ...]
    pass_rule: dict[str, Any]
    sections: tuple[SectionScore, ...]
    regraded_at: datetime | None = None


class ReviewItem(_Out):
    position: int
    section_code: str
    question: QuestionView
    answer: ResponseIn | None
    key: dict[str, Any]
    key_display: tuple[str, ...]
    explanation: str
    earned: float
    points: float
    correct: bool
    time_ms: int
    changes: int
    right_to_wrong: int


class AttemptReview(_Out):
    result: AttemptResult
    items: tuple[ReviewItem, ...]
    right_to_wrong_total: int


class AttemptSummary(_Out):
    id: str
    certification: str
    form_name: str
    status: str
    started_at: datetime
    deadline_at: datetime
    passed: bool | None
    percent: float | None


class RegradeChange(_Out):
    attempt_id: str
    user_id: str
    old_percent: float
    new_percent: float
    old_passed: bool
    new_passed: bool


class RegradeReport(_Out):
    question_id: str
    to_version: int
    attempts: int
    changes: tuple[RegradeChange, ...]
    applied: bool


# ---- events for analytics (payloads of the outbox topics below; the version is in the topic) --

ANSWERS_RECORDED = "certplatform.learning.answers.recorded.v1"
PRACTICE_STARTED = "certplatform.learning.practice.started.v1"
ATTEMPT_STARTED = "certplatform.learning.attempt.started.v1"
ATTEMPT_GRADED = "certplatform.learning.attempt.graded.v1"
ATTEMPT_REGRADED = "certplatform.learning.attempt.regraded.v1"


class AnswerRecorded(_Out):
    """One answer as logged (practice or exam): what analytics counts."""

    answer_id: str
    user_id: str
    certification: str
    question_id: str
    version_id: str
    subject: str | None
    context: str  # practice | exam
    correct: bool
    fraction: float
    elapsed_ms: int
    answered_at: datetime
    # Choice ids picked (single/multiple choice); empty for other types.
    choice_ids: tuple[str, ...] = ()


class AnswersRecorded(_Out):
    """The answers one action logged: one practice answer, or every answer of a submit
    (one outbox row per submit, not one per question)."""

    answers: tuple[AnswerRecorded, ...]


class PracticeStarted(_Out):
    session_id: str
    user_id: str
    certification: str
    mode: str
    subject: str | None
    size: int
    started_at: datetime


class AttemptGraded(_Out):
    """An attempt's score after the submit, or after a regrade (then `previous_*` are set)."""

    attempt_id: str
    user_id: str
    certification: str
    form_kind: str
    form_id: str
    form_name: str
    started_at: datetime
    submitted_at: datetime
    percent: float
    passed: bool
    # section code → percent
    sections: dict[str, float]
    regraded_at: datetime | None = None
    previous_percent: float | None = None
    previous_passed: bool | None = None


class GroupSeat(_Out):
    """One member's attempt in a group mock exam (all started on one clock)."""

    user_id: str
    attempt_id: str
    question_count: int
    started_at: datetime
    deadline_at: datetime


class AttemptProgress(_Out):
    """How far an attempt is, as counts only: never which answers."""

    attempt_id: str
    user_id: str
    answered: int
    total: int
    submitted: bool
    percent: float | None
    passed: bool | None


class ItemRate(_Out):
    """How a group did on one question of a shared form (after everyone submitted)."""

    position: int
    question_id: str
    stem: str
    correct: int
    sat: int


class FormItemResponse(_Out):
    """One item of a graded attempt as the form's item statistics need it."""

    position: int
    section_code: str
    question_id: str
    version_id: str
    points: float
    earned: float  # 0 for an item left blank
    fraction: float
    answered: bool
    choice_ids: tuple[str, ...]  # choices picked (single/multiple choice)
    time_ms: int


class FormAttempt(_Out):
    """A graded sitting of one exam form (blueprint or past paper) with its items."""

    attempt_id: str
    user_id: str
    submitted_at: datetime
    percent: float
    items: tuple[FormItemResponse, ...]
