"""The GraphQL API at /graphql: the learner operations of the REST learning API.

Resolvers hold no domain logic; they call the contexts' services exactly as the REST routes
do. Every top-level field checks the Casbin permission of the REST route it mirrors and runs
in its own unit of work, committed before the field's value is returned and rolled back when
it raises, so each mutation of a multi-field document is all-or-nothing on its own and an
error reply never hides a committed write.

The GraphQL types are written out field by field from the contracts: key material can only
reach a client through a type that names it (the review after submission and the practice
feedback after answering).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from enum import Enum
from typing import Any, NewType, TypeAlias, TypeVar

import casbin
import strawberry
from fastapi import Request
from graphql import GraphQLError, IntValueNode, OperationType, ValueNode
from pydantic import ValidationError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from certplatform.content import service as content
from certplatform.content.contracts import (
    BlueprintOut,
    CertificationOut,
    PastPaperSummary,
    QuestionType,
)
from certplatform.content.contracts import PassRule as PassRuleSpec
from certplatform.gateway.limits import MAX_TOKENS, DocumentLimits
from certplatform.identity import service as identity
from certplatform.identity.contracts import UserOut
from certplatform.kernel.auth import Authenticator, Principal, role_forbidden, signed_in
from certplatform.kernel.bounds import CODE_LENGTH, ID_LENGTH, INT64_MAX
from certplatform.kernel.db import Database, UnitOfWork
from certplatform.kernel.errors import N_, AppError, Forbidden, Invalid, NotAuthenticated
from certplatform.kernel.settings import Settings
from certplatform.learning import contracts as dto
from certplatform.learning import service as learning

T = TypeVar("T")
Work: TypeAlias = Callable[[UnitOfWork, Principal | None], Awaitable[T]]

MAX_DEPTH = 8  # the deepest useful selection (review → items → question → choices) is 4
MAX_ALIASES = 50  # enough to save a whole section in one document, not to flood the server


# ---- request context: who is calling, one unit of work per field ---------------------------


class GatewayContext(BaseContext):
    """Per request: the caller, looked up once, and a lock that runs fields one at a time."""

    def __init__(self, request: Request) -> None:
        super().__init__()
        self.http = request
        self.settings: Settings = request.app.state.settings
        # graphql-core resolves sibling query fields concurrently; without the lock one
        # request could hold a connection per aliased field.
        self._lock = asyncio.Lock()
        self._looked_up = False
        self._principal: Principal | None = None

    async def run(self, resource: str, action: str, work: Work[T], *, mutation: bool) -> T:
        """Authorise the caller like `kernel.auth.Requirement`, then do `work` in a fresh
        unit of work that commits before this returns."""
        db: Database = self.http.app.state.db
        async with self._lock, db.transaction() as uow:
            principal = await self._caller(uow)
            self._authorise(principal, resource, action, mutation=mutation)
            return await work(uow, principal)

    async def _caller(self, uow: UnitOfWork) -> Principal | None:
        if not self._looked_up:
            authenticator: Authenticator = self.http.app.state.authenticator
            self._principal = await authenticator(self.http, uow)
            self._looked_up = True
        return self._principal

    def _authorise(
        self, principal: Principal | None, resource: str, action: str, *, mutation: bool
    ) -> None:
        enforcer: casbin.Enforcer = self.http.app.state.enforcer
        role = principal.role if principal else "anonymous"
        if not enforcer.enforce(role, resource, action):
            if principal is None:
                raise NotAuthenticated("Sign in to do this.")
            raise role_forbidden(role, resource, action)
        # A browser sends the session cookie with any cross-site POST; only the page's own
        # script can send the token. Queries change nothing, so they go without it.
        if mutation and principal is not None and principal.via == "cookie":
            sent = self.http.headers.get("x-csrf-token")
            if (
                not sent
                or not principal.csrf_token
                or not hmac.compare_digest(sent, principal.csrf_token)
            ):
                raise Forbidden("Missing or wrong CSRF token; reload the page and try again.")


Info: TypeAlias = strawberry.Info[GatewayContext, None]


async def _guarded(info: Info, resource: str, action: str, work: Work[T]) -> T:
    mutation = info.operation.operation is OperationType.MUTATION
    return await info.context.run(resource, action, work, mutation=mutation)


def _within(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise Invalid(
            N_("%(field)s must be between %(low)s and %(high)s."), field=name, low=low, high=high
        )
    return value


def _id(name: str, value: str) -> str:
    # Variables are bounded only by the request body; an id is never longer than this.
    if len(value) > ID_LENGTH:
        raise Invalid(
            N_("%(field)s is not an id: ids are at most %(limit)s characters."),
            field=name,
            limit=ID_LENGTH,
        )
    return value


def _code(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > CODE_LENGTH:
        raise Invalid(
            N_("%(field)s must be at most %(limit)s characters."), field=name, limit=CODE_LENGTH
        )
    return value


# GraphQL's Int is 32 bits; operation numbers are often Date.now() milliseconds.
Long = NewType("Long", int)


def _long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise GraphQLError(f"Long must be a whole number from 0 to {INT64_MAX}.")
    return value


def _long_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError(f"Long must be a whole number from 0 to {INT64_MAX}.")
    return _long(int(node.value))


async def _context(request: Request) -> GatewayContext:
    return GatewayContext(request)


# ---- errors: AppErrors keep their message, anything unexpected is masked -------------------


def _replaced(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    # Dropping the original error keeps its traceback and text out of every formatter.
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def _shaped(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        extensions: dict[str, Any] = {"code": original.code, "status": original.status_code}
        if original.details is not None:
            extensions["details"] = original.details
        return _replaced(error, original.message, extensions)
    if isinstance(original, ValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in original.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return _replaced(
            error,
            message,
            {"code": Invalid.code, "status": Invalid.status_code, "details": problems},
        )
    # A resolver failed in a way nobody planned for: say so, and nothing more. Errors in
    # the document itself (syntax, unknown fields, bad variables) have no path and stay.
    if error.path is not None and original is not None and not isinstance(original, GraphQLError):
        return _replaced(error, "Unexpected error.", {"code": "internal", "status": 500})
    return error


class ErrorShape(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_shaped(e) for e in result.errors]


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are answers, not incidents; log only the unplanned ones.
        unplanned = [
            e
            for e in errors
            if e.original_error is not None
            and not isinstance(e.original_error, AppError | ValidationError)
        ]
        super().process_errors(unplanned, execution_context)


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


# ---- operations --------------------------------------------------------------------------------
# Resolvers are plain functions handed to `strawberry.field(resolver=...)`, which keeps their
# signatures visible to mypy.


async def resolve_me(info: Info) -> User:
    user = await _guarded(
        info, "self", "read", lambda uow, p: identity.get_user(uow, signed_in(p).user_id)
    )
    return User.of(user)


async def resolve_certifications(info: Info) -> list[Certification]:
    async def work(uow: UnitOfWork, _: Principal | None) -> list[Certification]:
        found = []
        for cert in await content.list_certifications(uow):
            blueprints = await content.blueprints(uow, cert.code)
            papers = await content.past_paper_summaries(uow, cert.code)
            found.append(Certification.of(cert, blueprints, papers))
        return found

    return await _guarded(info, "catalog", "read", work)


async def resolve_attempt(info: Info, id: strawberry.ID) -> Attempt:
    view = await _guarded(
        info,
        "attempt",
        "use",
        lambda uow, p: learning.attempt_view(uow, signed_in(p), _id("id", id)),
    )
    return Attempt.of(view)


async def resolve_attempt_result(info: Info, id: strawberry.ID) -> AttemptResult:
    result = await _guarded(
        info,
        "attempt",
        "use",
        lambda uow, p: learning.attempt_result(uow, signed_in(p), _id("id", id)),
    )
    return AttemptResult.of(result)


async def resolve_attempt_review(info: Info, id: strawberry.ID) -> AttemptReview:
    review = await _guarded(
        info,
        "attempt",
        "use",
        lambda uow, p: learning.attempt_review(uow, signed_in(p), _id("id", id)),
    )
    return AttemptReview.of(review)


async def resolve_my_attempts(info: Info, limit: int = 20) -> list[AttemptSummary]:
    async def work(uow: UnitOfWork, p: Principal | None) -> list[dto.AttemptSummary]:
        return await learning.my_attempts(uow, signed_in(p), _within("limit", limit, 1, 100))

    return [AttemptSummary.of(a) for a in await _guarded(info, "attempt", "use", work)]


async def resolve_wrong_notes(info: Info, certification: str | None = None) -> list[WrongNote]:
    notes = await _guarded(
        info,
        "remediation",
        "use",
        lambda uow, p: learning.wrong_notes(
            uow, signed_in(p), _code("certification", certification)
        ),
    )
    return [WrongNote.of(n) for n in notes]


async def resolve_due_reviews(
    info: Info, certification: str | None = None, limit: int = 100
) -> list[DueCard]:
    async def work(uow: UnitOfWork, p: Principal | None) -> list[dto.DueCard]:
        bounded = _within("limit", limit, 1, 500)
        cert = _code("certification", certification)
        return await learning.due_reviews(uow, signed_in(p), cert, bounded)

    return [DueCard.of(d) for d in await _guarded(info, "remediation", "use", work)]


async def resolve_practice_question(
    info: Info, session_id: strawberry.ID, position: int
) -> PracticeQuestion:
    question = await _guarded(
        info,
        "practice",
        "use",
        lambda uow, p: learning.practice_question(
            uow, signed_in(p), _id("sessionId", session_id), position
        ),
    )
    return PracticeQuestion.of(question)


async def resolve_start_attempt(
    info: Info, blueprint_id: strawberry.ID | None = None, paper_id: strawberry.ID | None = None
) -> Attempt:
    view = await _guarded(
        info,
        "attempt",
        "use",
        lambda uow, p: learning.start_attempt(
            uow,
            signed_in(p),
            blueprint_id=_id("blueprintId", blueprint_id) if blueprint_id else None,
            paper_id=_id("paperId", paper_id) if paper_id else None,
        ),
    )
    return Attempt.of(view)


async def resolve_save_answer(
    info: Info,
    attempt_id: strawberry.ID,
    position: int,
    op_id: str,
    op_seq: Long,
    answer: AnswerInput | None = None,
    flagged: bool | None = None,
    elapsed_ms: int = 0,
) -> SaveAck:
    async def work(uow: UnitOfWork, p: Principal | None) -> dto.SaveAck:
        if answer is None and flagged is None:
            raise Invalid("Send an answer, a flag, or both.")
        op = dto.SaveAnswer.model_validate(
            {
                "op_id": op_id,
                "op_seq": op_seq,
                "answer": answer.to_contract() if answer else None,
                "flagged": flagged,
                "elapsed_ms": elapsed_ms,
            }
        )
        return await learning.save_answer(
            uow,
            signed_in(p),
            _id("attemptId", attempt_id),
            position,
            op,
            grace_seconds=info.context.settings.answer_grace_seconds,
        )

    return SaveAck.of(await _guarded(info, "attempt", "use", work))


async def resolve_submit_attempt(info: Info, attempt_id: strawberry.ID) -> AttemptResult:
    clear_after = info.context.settings.wrong_note_clear_after
    result = await _guarded(
        info,
        "attempt",
        "use",
        lambda uow, p: learning.submit_attempt(
            uow, signed_in(p), _id("attemptId", attempt_id), clear_after=clear_after
        ),
    )
    return AttemptResult.of(result)


async def resolve_report_integrity_event(
    info: Info, attempt_id: strawberry.ID, kind: IntegrityKind, detail: JSON | None = None
) -> bool:
    async def work(uow: UnitOfWork, p: Principal | None) -> bool:
        event = dto.IntegrityEventIn.model_validate({"kind": kind.value, "detail": detail or {}})
        await learning.record_integrity_event(
            uow,
            signed_in(p),
            _id("attemptId", attempt_id),
            event.kind.value,
            dict(event.detail),
            limit=info.context.http.app.state.integrity_limit,
        )
        return True

    return await _guarded(info, "attempt", "use", work)


async def resolve_start_practice(
    info: Info,
    certification: str,
    mode: PracticeMode = PracticeMode.ALL,
    order: PracticeOrder = PracticeOrder.SEQUENTIAL,
    subject: str | None = None,
    topic: str | None = None,
    limit: int = 20,
) -> PracticeSession:
    async def work(uow: UnitOfWork, p: Principal | None) -> dto.PracticeSessionOut:
        spec = dto.PracticeStart.model_validate(
            {
                "certification": certification,
                "mode": mode.value,
                "order": order.value,
                "subject": subject,
                "topic": topic,
                "limit": limit,
            }
        )
        return await learning.start_practice(uow, signed_in(p), spec)

    return PracticeSession.of(await _guarded(info, "practice", "use", work))


async def resolve_answer_practice(
    info: Info,
    session_id: strawberry.ID,
    position: int,
    answer: AnswerInput,
    elapsed_ms: int = 0,
) -> Feedback:
    async def work(uow: UnitOfWork, p: Principal | None) -> dto.Feedback:
        return await learning.answer_practice(
            uow,
            signed_in(p),
            _id("sessionId", session_id),
            position,
            answer.to_contract(),
            _within("elapsedMs", elapsed_ms, 0, 24 * 3600 * 1000),
            clear_after=info.context.settings.wrong_note_clear_after,
        )

    return Feedback.of(await _guarded(info, "practice", "use", work))


# Top-level fields are nullable: each runs (and a mutation commits) on its own, so a field
# that fails must not null its siblings' replies, which would hide what they did.
@strawberry.type
class Query:
    me: User | None = strawberry.field(resolver=resolve_me, description="The signed-in account.")
    certifications: list[Certification] | None = strawberry.field(
        resolver=resolve_certifications, description="Certifications with their mock-exam forms."
    )
    attempt: Attempt | None = strawberry.field(
        resolver=resolve_attempt,
        description="One of my attempts: questions, my answers, the clock.",
    )
    attempt_result: AttemptResult | None = strawberry.field(
        resolver=resolve_attempt_result, description="The graded result of a submitted attempt."
    )
    attempt_review: AttemptReview | None = strawberry.field(
        resolver=resolve_attempt_review,
        description="Keys, explanations and my answers, once submitted.",
    )
    my_attempts: list[AttemptSummary] | None = strawberry.field(
        resolver=resolve_my_attempts, description="My latest attempts, newest first."
    )
    wrong_notes: list[WrongNote] | None = strawberry.field(
        resolver=resolve_wrong_notes,
        description="My wrong-answer note, optionally for one certification.",
    )
    due_reviews: list[DueCard] | None = strawberry.field(
        resolver=resolve_due_reviews, description="Questions due for spaced-repetition review."
    )
    practice_question: PracticeQuestion | None = strawberry.field(
        resolver=resolve_practice_question,
        description="One question of my practice run, without its key.",
    )


@strawberry.type
class Mutation:
    start_attempt: Attempt | None = strawberry.mutation(
        resolver=resolve_start_attempt,
        description="Start a timed mock exam from a blueprint or a past paper.",
    )
    save_answer: SaveAck | None = strawberry.mutation(
        resolver=resolve_save_answer,
        description="Save an answer and/or flag: an op id is applied once, the highest opSeq wins.",
    )
    submit_attempt: AttemptResult | None = strawberry.mutation(
        resolver=resolve_submit_attempt,
        description="Submit and grade; a repeated submit returns the same result.",
    )
    report_integrity_event: bool | None = strawberry.mutation(
        resolver=resolve_report_integrity_event,
        description="Report a focus-lost or similar event to the audit log.",
    )
    start_practice: PracticeSession | None = strawberry.mutation(
        resolver=resolve_start_practice, description="Start a practice run with immediate feedback."
    )
    answer_practice: Feedback | None = strawberry.mutation(
        resolver=resolve_answer_practice,
        description="Answer a practice question: graded at once, with the key and explanation.",
    )


def build_schema(*, introspection: bool) -> GatewaySchema:
    """The schema with its document limits; `introspection=False` refuses `__schema` and
    `__type` (production: the schema is published with the docs, not to every caller)."""
    # Factories, not instances: each operation gets fresh extension state. Size and cost
    # come first, so a document too big to validate cheaply never reaches validation.
    extensions: list[Any] = [
        ErrorShape,
        DocumentLimits,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(
            scalar_map={
                Long: strawberry.scalar(
                    name="Long",
                    description=f"A whole number from 0 to {INT64_MAX} (64 bits).",
                    serialize=int,
                    parse_value=_long,
                    parse_literal=_long_literal,
                )
            }
        ),
    )


def graphql_router(settings: Settings) -> GraphQLRouter[GatewayContext, None]:
    """The /graphql routes; GraphiQL and introspection are served outside production only."""
    return GraphQLRouter(
        build_schema(introspection=not settings.production),
        context_getter=_context,
        graphql_ide=None if settings.production else "graphiql",
        subscription_protocols=(),  # no subscriptions: refuse websocket upgrades
    )
