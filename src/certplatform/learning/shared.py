"""What every use case of learning shares: question versions (cached once per process),
answers mapped to and from display, and the exam lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from certplatform.content import service as content
from certplatform.content.contracts import QuestionContent, VersionOut
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, UnitOfWork
from certplatform.kernel.errors import N_, Conflict, Invalid
from certplatform.learning import display
from certplatform.learning import repository as repo
from certplatform.learning.contracts import ResponseIn
from certplatform.learning.grading import InvalidResponse, Response, validate_response

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


def utc_today() -> date:
    return datetime.now(UTC).date()
