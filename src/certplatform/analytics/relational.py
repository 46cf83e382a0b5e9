"""The relational adapter of the analytics port: the `analytics_*` tables in the
application database (SQLite or PostgreSQL), written in the caller's transaction by the
statements of `store.py` (ON CONFLICT idempotency, ADR 0023)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.analytics import store
from certplatform.analytics.port import Engine, Query
from certplatform.learning.contracts import AnswerRecorded, AttemptGraded, PracticeStarted


class RelationalStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def engine(self) -> Engine:
        return "postgresql" if self.session.get_bind().dialect.name == "postgresql" else "sqlite"

    async def record_answers(self, answers: Sequence[AnswerRecorded]) -> None:
        await store.record_answers(self.session, answers)

    async def record_attempts_started(self, payloads: Sequence[dict[str, Any]]) -> None:
        for payload in payloads:
            await store.record_attempt_started(self.session, payload)

    async def record_attempts_graded(self, graded: Sequence[AttemptGraded]) -> None:
        for one in graded:
            await store.record_attempt_graded(self.session, one)

    async def record_practice_runs(self, runs: Sequence[PracticeStarted]) -> None:
        for run in runs:
            await store.record_practice_started(self.session, run)

    async def clear(self) -> None:
        await store.clear(self.session)

    async def insert_facts(self, answers: Sequence[AnswerRecorded]) -> None:
        await store.insert_facts(self.session, answers)

    async def rebuild_rollups(self, choices: Counter[tuple[str, str]]) -> None:
        await store.rebuild_rollups(self.session, choices)

    async def rows(self, query: Query, **params: Any) -> list[tuple[Any, ...]]:
        statement = text(query.sql).bindparams(
            *(
                bindparam(name, type_=query.params.get(name), expanding=name in query.lists)
                for name in params
            )
        )
        # Typed by name: parameters bind through their types, columns read through theirs.
        statement = statement.columns(**query.columns)  # type: ignore[assignment]
        result = await self.session.execute(statement, params)
        return [tuple(row) for row in result.all()]
