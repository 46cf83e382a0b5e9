"""The analytics store as a port: what the consumer, the backfill and the read side need.

Two adapters implement it: `relational.RelationalStore` (the `analytics_*` tables in the
application database, SQLite or PostgreSQL) and `clickhouse.store.ClickHouseStore`
(MergeTree tables on a ClickHouse server, or in an embedded chdb session). The read
queries are written once (`queries.py`) and every adapter runs them as they are; only
the writes differ, because idempotency is ON CONFLICT on one and ReplacingMergeTree on
the other (ADR 0031).

Which adapter serves is a process-wide choice: `CH_HOST` set → ClickHouse, else the
session's own database. `use()` sets it explicitly (tests, the bench, embedded use).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from certplatform.kernel.settings import Settings, get_settings
from certplatform.learning.contracts import AnswerRecorded, AttemptGraded, PracticeStarted

Engine = Literal["sqlite", "postgresql", "clickhouse"]


@dataclass(frozen=True)
class Query:
    """One read query in the shared dialect: plain SQL with `:name` parameters, only
    constructs SQLite, PostgreSQL and ClickHouse all run the same way (no alias that
    shadows a column: ClickHouse resolves aliases everywhere). `columns` and `params`
    say how the relational drivers read a column or bind a parameter (SQLite returns
    dates as text otherwise); ClickHouse returns typed columns by itself. `lists` names
    the parameters that are lists (`x IN :ids`)."""

    sql: str
    columns: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)
    params: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)
    lists: tuple[str, ...] = ()


class AnalyticsStore(Protocol):
    @property
    def engine(self) -> Engine: ...

    # ---- the consumer (idempotent: a replay changes nothing) ----
    async def record_answers(self, answers: Sequence[AnswerRecorded]) -> None: ...

    async def record_attempts_started(self, payloads: Sequence[dict[str, Any]]) -> None: ...

    async def record_attempts_graded(self, graded: Sequence[AttemptGraded]) -> None: ...

    async def record_practice_runs(self, runs: Sequence[PracticeStarted]) -> None: ...

    # ---- the backfill ----
    async def clear(self) -> None: ...

    async def insert_facts(self, answers: Sequence[AnswerRecorded]) -> None: ...

    async def rebuild_rollups(self, choices: Counter[tuple[str, str]]) -> None:
        """Recount every rollup from the facts; `choices` are the picks per (question,
        choice) the caller counted while paging (an adapter may recount them itself)."""

    # ---- the read side ----
    async def rows(self, query: Query, **params: Any) -> list[tuple[Any, ...]]: ...


class StoreFactory(Protocol):
    def __call__(self, session: AsyncSession) -> AnalyticsStore: ...


_configured: StoreFactory | None = None


def use(factory: StoreFactory | None) -> StoreFactory | None:
    """Serve analytics from `factory`'s store from now on (None: back to the default);
    returns the previous choice so a caller can put it back."""
    global _configured
    previous, _configured = _configured, factory
    return previous


def store_for(session: AsyncSession) -> AnalyticsStore:
    """The analytics store this process uses, bound to the caller's session (the
    relational adapter writes in the caller's transaction)."""
    if _configured is None:
        use(_default_factory())
    assert _configured is not None
    return _configured(session)


def factory_for(settings: Settings) -> StoreFactory:
    """ClickHouse when `CH_HOST` is set (one store per process: it holds the connection),
    else the relational store in the caller's session."""
    if settings.ch_host:
        from certplatform.analytics.clickhouse.store import ClickHouseStore

        shared = ClickHouseStore.connect(
            settings.ch_host, settings.ch_user, settings.ch_password, settings.ch_database
        )
        return lambda _session: shared
    from certplatform.analytics.relational import RelationalStore

    return RelationalStore


def _default_factory() -> StoreFactory:
    return factory_for(get_settings())


def engine_of(ch_host: str | None) -> str:
    """Where the analytics store lives, in words for `/readyz` and `doctor`."""
    return "clickhouse" if ch_host else "database"
