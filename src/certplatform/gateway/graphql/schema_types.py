"""The GraphQL types, written out field by field from the contracts."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from certplatform.content.contracts import (
    BlueprintOut,
    CertificationOut,
    PastPaperSummary,
    QuestionType,
)
from certplatform.content.contracts import PassRule as PassRuleSpec
from certplatform.identity.contracts import UserOut
from certplatform.learning import contracts as dto

# ---- types -----------------------------------------------------------------------------------

# Registers the bank's own enum (Strawberry marks the class), so `Question.type` follows it.
strawberry.enum(QuestionType, name="QuestionType")


@strawberry.enum
class PracticeMode(Enum):
    ALL = "all"
    WRONG = "wrong"
    BOOKMARKED = "bookmarked"
    DUE = "due"
    NEW = "new"


@strawberry.enum
class PracticeOrder(Enum):
    SEQUENTIAL = "sequential"
    RANDOM = "random"


@strawberry.enum
class IntegrityKind(Enum):
    FOCUS_LOST = "focus_lost"
    PAGE_HIDDEN = "page_hidden"
    PASTE = "paste"
    COPY = "copy"
    FULLSCREEN_EXIT = "fullscreen_exit"
    RESUME = "resume"


@strawberry.type(description="The signed-in account.")
class User:
    id: strawberry.ID
    email: str
    role: str
    display_name: str

    @classmethod
    def of(cls, user: UserOut) -> User:
        return cls(
            id=strawberry.ID(user.id),
            email=user.email,
            role=user.role,
            display_name=user.display_name,
        )


@strawberry.type(description="A mock-exam form drawn from the bank.")
class Blueprint:
    id: strawberry.ID
    name: str
    time_limit_minutes: int
    question_count: int

    @classmethod
    def of(cls, bp: BlueprintOut) -> Blueprint:
        return cls(
            id=strawberry.ID(bp.id),
            name=bp.name,
            time_limit_minutes=bp.time_limit_minutes,
            question_count=sum(s.question_count for s in bp.sections),
        )


@strawberry.type(description="A past exam paper (기출 회차): fixed questions in order.")
class PastPaper:
    id: strawberry.ID
    name: str
    source: str | None
    time_limit_minutes: int
    question_count: int

    @classmethod
    def of(cls, paper: PastPaperSummary) -> PastPaper:
        return cls(
            id=strawberry.ID(paper.id),
            name=paper.name,
            source=paper.source,
            time_limit_minutes=paper.time_limit_minutes,
            question_count=paper.question_count,
        )


@strawberry.type
class Certification:
    code: str
    name: str
    description: str
    blueprints: list[Blueprint]
    past_papers: list[PastPaper]

    @classmethod
    def of(
        cls, cert: CertificationOut, blueprints: list[BlueprintOut], papers: list[PastPaperSummary]
    ) -> Certification:
        return cls(
            code=cert.code,
            name=cert.name,
            description=cert.description,
            blueprints=[Blueprint.of(b) for b in blueprints],
            past_papers=[PastPaper.of(p) for p in papers],
        )


@strawberry.type(description="A choice under the label it has in this attempt.")
class Choice:
    label: str
    text: str


@strawberry.type(description="A question as a learner sees it before answering.")
class Question:
    question_id: strawberry.ID
    type: QuestionType
    stem: str
    choices: list[Choice]
    match_left: list[str]
    match_right: list[str]
    subject_code: str | None

    @classmethod
    def of(cls, q: dto.QuestionView) -> Question:
        return cls(
            question_id=strawberry.ID(q.question_id),
            type=q.type,
            stem=q.stem,
            choices=[Choice(label=c.label, text=c.text) for c in q.choices],
            match_left=list(q.match_left),
            match_right=list(q.match_right),
            subject_code=q.subject_code,
        )


@strawberry.type
class MatchPair:
    left: str
    right: str


@strawberry.type(description="An answer in display terms: choice labels, or a value.")
class Answer:
    choices: list[str]
    value: bool | None
    text: str | None
    number: float | None
    pairs: list[MatchPair]

    @classmethod
    def of(cls, a: dto.ResponseIn) -> Answer:
        return cls(
            choices=list(a.choices),
            value=a.value,
            text=a.text,
            number=a.number,
            pairs=[MatchPair(left=left, right=right) for left, right in a.pairs],
        )


@strawberry.input
class MatchPairInput:
    left: str
    right: str


@strawberry.input(description="Choice labels as shown, or a true/false value, text, number.")
class AnswerInput:
    choices: list[str] = strawberry.field(default_factory=list)
    value: bool | None = None
    text: str | None = None
    number: float | None = None
    pairs: list[MatchPairInput] = strawberry.field(default_factory=list)

    def to_contract(self) -> dto.ResponseIn:
        return dto.ResponseIn.model_validate(
            {
                "choices": self.choices,
                "value": self.value,
                "text": self.text,
                "number": self.number,
                "pairs": [(p.left, p.right) for p in self.pairs],
            }
        )


@strawberry.type
class SectionClock:
    code: str
    name: str
    deadline_at: datetime | None
    remaining_seconds: float | None


@strawberry.type
class AttemptItem:
    position: int
    section_code: str
    points: float
    flagged: bool
    question: Question
    answer: Answer | None


@strawberry.type(description="An attempt while it is open: no keys, no explanations.")
class Attempt:
    id: strawberry.ID
    status: str
    certification: str
    form_name: str
    calculator: bool
    started_at: datetime
    deadline_at: datetime
    server_time: datetime
    remaining_seconds: float
    question_count: int
    unanswered: list[int]
    sections: list[SectionClock]
    items: list[AttemptItem]

    @classmethod
    def of(cls, v: dto.AttemptView) -> Attempt:
        return cls(
            id=strawberry.ID(v.id),
            status=v.status,
            certification=v.certification,
            form_name=v.form_name,
            calculator=v.calculator,
            started_at=v.started_at,
            deadline_at=v.deadline_at,
            server_time=v.server_time,
            remaining_seconds=v.remaining_seconds,
            question_count=v.question_count,
            unanswered=list(v.unanswered),
            sections=[
                SectionClock(
                    code=s.code,
                    name=s.name,
                    deadline_at=s.deadline_at,
                    remaining_seconds=s.remaining_seconds,
                )
                for s in v.sections
            ],
            items=[
                AttemptItem(
                    position=i.position,
                    section_code=i.section_code,
                    points=i.points,
                    flagged=i.flagged,
                    question=Question.of(i.question),
                    answer=Answer.of(i.answer) if i.answer else None,
                )
                for i in v.items
            ],
        )


@strawberry.type(description="The reply to a saved answer; `applied` is false for a stale op.")
class SaveAck:
    position: int
    op_id: str
    applied: bool
    saved_at: datetime
    remaining_seconds: float
    unanswered_count: int

    @classmethod
    def of(cls, a: dto.SaveAck) -> SaveAck:
        return cls(
            position=a.position,
            op_id=a.op_id,
            applied=a.applied,
            saved_at=a.saved_at,
            remaining_seconds=a.remaining_seconds,
            unanswered_count=a.unanswered_count,
        )


@strawberry.type
class SectionScore:
    code: str
    name: str
    points: float
    earned: float
    percent: float
    correct_count: int
    question_count: int
    below_floor: bool


@strawberry.type(description="How the exam is passed: an overall mark and a section floor.")
class PassRule:
    mode: str
    threshold: float
    section_floor: float | None


@strawberry.type(description="The graded result of a submitted attempt.")
class AttemptResult:
    attempt_id: strawberry.ID
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
    reasons: list[str]
    reasons_en: list[str]
    pass_rule: PassRule
    sections: list[SectionScore]
    regraded_at: datetime | None

    @classmethod
    def of(cls, r: dto.AttemptResult) -> AttemptResult:
        rule = PassRuleSpec.model_validate(r.pass_rule)
        return cls(
            attempt_id=strawberry.ID(r.attempt_id),
            certification=r.certification,
            form_name=r.form_name,
            submitted_at=r.submitted_at,
            submitted_by=r.submitted_by,
            unanswered_count=r.unanswered_count,
            percent=r.percent,
            section_average=r.section_average,
            correct_count=r.correct_count,
            question_count=r.question_count,
            earned=r.earned,
            total_points=r.total_points,
            passed=r.passed,
            reasons=list(r.reasons),
            reasons_en=list(r.reasons_en),
            pass_rule=PassRule(
                mode=rule.mode.value, threshold=rule.threshold, section_floor=rule.section_floor
            ),
            sections=[
                SectionScore(
                    code=s.code,
                    name=s.name,
                    points=s.points,
                    earned=s.earned,
                    percent=s.percent,
                    correct_count=s.correct_count,
                    question_count=s.question_count,
                    below_floor=s.below_floor,
                )
                for s in r.sections
            ],
            regraded_at=r.regraded_at,
        )


@strawberry.type(description="One question after submission, with its key and explanation.")
class ReviewItem:
    position: int
    section_code: str
    question: Question
    answer: Answer | None
    key: JSON
    key_display: list[str]
    explanation: str
    earned: float
    points: float
    correct: bool
    time_ms: int
    changes: int
    right_to_wrong: int


@strawberry.type
class AttemptReview:
    result: AttemptResult
    items: list[ReviewItem]
    right_to_wrong_total: int

    @classmethod
    def of(cls, r: dto.AttemptReview) -> AttemptReview:
        return cls(
            result=AttemptResult.of(r.result),
            items=[
                ReviewItem(
                    position=i.position,
                    section_code=i.section_code,
                    question=Question.of(i.question),
                    answer=Answer.of(i.answer) if i.answer else None,
                    key=JSON(i.key),
                    key_display=list(i.key_display),
                    explanation=i.explanation,
                    earned=i.earned,
                    points=i.points,
                    correct=i.correct,
                    time_ms=i.time_ms,
                    changes=i.changes,
                    right_to_wrong=i.right_to_wrong,
                )
                for i in r.items
            ],
            right_to_wrong_total=r.right_to_wrong_total,
        )


@strawberry.type
class AttemptSummary:
    id: strawberry.ID
    certification: str
    form_name: str
    status: str
    started_at: datetime
    deadline_at: datetime
    passed: bool | None
    percent: float | None

    @classmethod
    def of(cls, a: dto.AttemptSummary) -> AttemptSummary:
        return cls(
            id=strawberry.ID(a.id),
            certification=a.certification,
            form_name=a.form_name,
            status=a.status,
            started_at=a.started_at,
            deadline_at=a.deadline_at,
            passed=a.passed,
            percent=a.percent,
        )


@strawberry.type(description="A question in the wrong-answer note (오답노트).")
class WrongNote:
    question_id: strawberry.ID
    certification: str
    stem: str
    memo: str
    wrong_count: int
    streak: int
    last_wrong_at: datetime

    @classmethod
    def of(cls, n: dto.WrongNoteOut) -> WrongNote:
        return cls(
            question_id=strawberry.ID(n.question_id),
            certification=n.certification,
            stem=n.stem,
            memo=n.memo,
            wrong_count=n.wrong_count,
            streak=n.streak,
            last_wrong_at=n.last_wrong_at,
        )


@strawberry.type(description="A question whose spaced-repetition review is due.")
class DueCard:
    question_id: strawberry.ID
    certification: str
    due_at: datetime
    reviews: int
    stem: str

    @classmethod
    def of(cls, d: dto.DueCard) -> DueCard:
        return cls(
            question_id=strawberry.ID(d.question_id),
            certification=d.certification,
            due_at=d.due_at,
            reviews=d.reviews,
            stem=d.stem,
        )


@strawberry.type
class PracticeSession:
    id: strawberry.ID
    certification: str
    mode: str
    total: int
    answered: int
    correct: int

    @classmethod
    def of(cls, s: dto.PracticeSessionOut) -> PracticeSession:
        return cls(
            id=strawberry.ID(s.id),
            certification=s.certification,
            mode=s.mode,
            total=s.total,
            answered=s.answered,
            correct=s.correct,
        )


@strawberry.type
class PracticeQuestion:
    session_id: strawberry.ID
    position: int
    total: int
    question: Question
    bookmarked: bool
    in_wrong_note: bool

    @classmethod
    def of(cls, q: dto.PracticeQuestion) -> PracticeQuestion:
        return cls(
            session_id=strawberry.ID(q.session_id),
            position=q.position,
            total=q.total,
            question=Question.of(q.question),
            bookmarked=q.bookmarked,
            in_wrong_note=q.in_wrong_note,
        )


@strawberry.type(description="Immediate practice feedback: right or wrong, key, explanation.")
class Feedback:
    correct: bool
    fraction: float
    key: JSON
    explanation: str
    your_answer: Answer
    next_position: int | None
    wrong_note: str
    next_review_at: datetime

    @classmethod
    def of(cls, f: dto.Feedback) -> Feedback:
        return cls(
            correct=f.correct,
            fraction=f.fraction,
            key=JSON(f.key),
            explanation=f.explanation,
            your_answer=Answer.of(f.your_answer),
            next_position=f.next_position,
            wrong_note=f.wrong_note,
            next_review_at=f.next_review_at,
        )
