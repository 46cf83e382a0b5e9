"""The GraphQL operations: resolvers, the Query and Mutation roots, the schema, the routes."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.fastapi import GraphQLRouter
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig

from certplatform.analytics import service as analytics
from certplatform.content import service as content
from certplatform.gateway.graphql.context import (
    ErrorShape,
    GatewayContext,
    GatewaySchema,
    Info,
    Long,
    _code,
    _context,
    _guarded,
    _id,
    _long,
    _long_literal,
    _within,
)
from certplatform.gateway.graphql.dashboard_types import Dashboard
from certplatform.gateway.graphql.schema_types import (
    AnswerInput,
    Attempt,
    AttemptResult,
    AttemptReview,
    AttemptSummary,
    Certification,
    DueCard,
    Feedback,
    IntegrityKind,
    PracticeMode,
    PracticeOrder,
    PracticeQuestion,
    PracticeSession,
    SaveAck,
    User,
    WrongNote,
)
from certplatform.gateway.limits import MAX_TOKENS, DocumentLimits
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal, signed_in
from certplatform.kernel.bounds import INT64_MAX
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import Invalid
from certplatform.kernel.settings import Settings
from certplatform.learning import contracts as dto
from certplatform.learning import service as learning

MAX_DEPTH = 8  # the deepest useful selection (review → items → question → choices) is 4
MAX_ALIASES = 50  # enough to save a whole section in one document, not to flood the server


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


async def resolve_dashboard(info: Info, certification: str | None = None) -> Dashboard:
    board = await _guarded(
        info,
        "progress",
        "read",
        lambda uow, p: analytics.my_dashboard(
            uow, signed_in(p), _code("certification", certification)
        ),
    )
    return Dashboard.of(board)


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
    dashboard: Dashboard | None = strawberry.field(
        resolver=resolve_dashboard,
        description="My progress in one certification (by default the one whose exam is "
        "nearest, else the last studied): D-day, reviews, streak, scores, subjects, P(pass).",
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
