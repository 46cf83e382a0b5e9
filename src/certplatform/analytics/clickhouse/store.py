"""The ClickHouse adapter of the analytics port (ADR 0031).

Writes: facts and attempt/run rows are plain inserts into ReplacingMergeTree tables keyed
by their source ids; rollups are recounted from the deduplicated facts for the keys a batch
touched (`INSERT … SELECT … FROM analytics_answers FINAL`), so a replayed event, a
redelivery after a crash or an overlap with the backfill lands on the same figures.
Reads: the shared queries of `queries.py` as they are, with `final = 1` so every table is
read deduplicated. Parameters are bound client-side by clickhouse-connect's quoting.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from clickhouse_connect.driver.binding import finalize_query

from certplatform.analytics.clickhouse.executor import (
    ChdbExecutor,
    ConnectExecutor,
    Executor,
    wire_time,
)
from certplatform.analytics.port import Engine, Query
from certplatform.analytics.store import study_day
from certplatform.learning.contracts import AnswerRecorded, AttemptGraded, PracticeStarted

READ_SETTINGS = {"final": 1, "do_not_merge_across_partitions_select_final": 1}
TABLES = (
    "analytics_answers",
    "analytics_learner_days",
    "analytics_items",
    "analytics_item_choices",
    "analytics_attempts",
    "analytics_practice_runs",
)
FACT_COLUMNS = (
    "answer_id", "user_id", "certification", "question_id", "version_id", "subject", "context",
    "correct", "fraction", "elapsed_ms", "answered_at", "day", "choice_ids",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "attempt_id", "user_id", "certification", "form_kind", "form_id", "form_name",
    "started_at", "submitted_at", "percent", "passed", "sections", "regraded_at",
    "previous_percent", "previous_passed", "revision",
)  # fmt: skip
RUN_COLUMNS = (
    "session_id", "user_id", "certification", "mode", "subject", "size", "started_at",
)  # fmt: skip

# The rollups, recounted from the facts. `{where}` narrows them to what a batch touched.
RECOUNT = (
    "INSERT INTO analytics_learner_days "
    "(user_id, certification, day, subject, answered, correct, elapsed_ms) "
    "SELECT user_id, certification, day, subject, count(), countIf(correct), sum(elapsed_ms) "
    "FROM analytics_answers FINAL {days} GROUP BY user_id, certification, day, subject",
    "INSERT INTO analytics_items (question_id, certification, attempts, correct, elapsed_ms) "
    "SELECT question_id, min(certification), count(), countIf(correct), sum(elapsed_ms) "
    "FROM analytics_answers FINAL {items} GROUP BY question_id",
    "INSERT INTO analytics_item_choices (question_id, choice_id, picks) "
    "SELECT question_id, choice_id, count() FROM analytics_answers FINAL "
    "ARRAY JOIN choice_ids AS choice_id {items} GROUP BY question_id, choice_id",
)
EMBEDDED = "chdb:"
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def embedded_path(target: str) -> str:
    """`chdb:///srv/analytics` → `/srv/analytics`; `chdb:var/analytics` → `var/analytics`."""
    rest = target.removeprefix(EMBEDDED)
    return "/" + rest.lstrip("/") if rest.startswith("//") else rest


def schema_statements() -> list[str]:
    text = (resources.files(__package__) / "schema.sql").read_text(encoding="utf-8")
    lines = [line.split("--", 1)[0] for line in text.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def bind(sql: str, params: Mapping[str, Any]) -> str:
    """The shared `:name` SQL with its values quoted in (ClickHouse's own escaping)."""
    values = {name: _value(v) for name, v in params.items()}
    return finalize_query(_PARAMETER.sub(r"%(\1)s", sql), values, UTC)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return wire_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_value(v) for v in value)
    return value


def _revision(graded: AttemptGraded) -> int:
    if graded.regraded_at is None:
        return 1
    return 1 + int(graded.regraded_at.timestamp() * 1000)


class ClickHouseStore:
    """One per process (it holds the connection); the session argument of the port's
    factory is not used: writes here are not part of the relay's transaction, and are
    safe to repeat when that transaction rolls back and the events come again."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._ready = False
        self._schema_lock = asyncio.Lock()

    @classmethod
    def connect(
        cls, target: str, user: str = "default", password: str = "", database: str = "default"
    ) -> ClickHouseStore:
        """`CH_HOST`: a server (`host`, `http[s]://…`), or `chdb:<directory>` for the
        embedded engine (one directory per process; needs the chdb package)."""
        if target.startswith(EMBEDDED):
            return cls.embedded(embedded_path(target))
        return cls(ConnectExecutor.from_url(target, user, password, database))

    @classmethod
    def embedded(cls, path: str) -> ClickHouseStore:
        return cls(ChdbExecutor(path))

    @property
    def engine(self) -> Engine:
        return "clickhouse"

    async def _run(self, fn: Any, *args: Any) -> Any:
        if not self._ready:
            async with self._schema_lock:
                if not self._ready:
                    for statement in schema_statements():
                        await asyncio.to_thread(self.executor.command, statement)
                    self._ready = True
        return await asyncio.to_thread(fn, *args)

    # ---- the consumer ----

    async def record_answers(self, answers: Sequence[AnswerRecorded]) -> None:
        if not answers:
            return
        await self.insert_facts(answers)
        touched = {
            "users": sorted({a.user_id for a in answers}),
            "days": sorted({study_day(a.answered_at) for a in answers}),
            "questions": sorted({a.question_id for a in answers}),
        }
        await self._recount(
            days="WHERE user_id IN :users AND day IN :days",
            items="WHERE question_id IN :questions",
            params=touched,
        )

    async def record_attempts_started(self, payloads: Sequence[dict[str, Any]]) -> None:
        rows = [
            (
                p["attempt_id"],
                p["user_id"],
                p["certification"],
                p.get("form_kind", ""),
                p.get("form_id", ""),
                p.get("form", ""),
                datetime.fromisoformat(p["started_at"]),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                0,
            )
            # An event from before started_at was carried: the graded event fills the row.
            for p in payloads
            if p.get("started_at")
        ]
        if rows:
            await self._run(self.executor.insert, "analytics_attempts", ATTEMPT_COLUMNS, rows)

    async def record_attempts_graded(self, graded: Sequence[AttemptGraded]) -> None:
        rows = [
            (
                g.attempt_id,
                g.user_id,
                g.certification,
                g.form_kind,
                g.form_id,
                g.form_name,
                g.started_at,
                g.submitted_at,
                g.percent,
                g.passed,
                None if g.sections is None else json.dumps(g.sections, sort_keys=True),
                g.regraded_at,
                g.previous_percent,
                g.previous_passed,
                _revision(g),
            )
            for g in graded
        ]
        if rows:
            await self._run(self.executor.insert, "analytics_attempts", ATTEMPT_COLUMNS, rows)

    async def record_practice_runs(self, runs: Sequence[PracticeStarted]) -> None:
        rows = [
            (r.session_id, r.user_id, r.certification, r.mode, r.subject, r.size, r.started_at)
            for r in runs
        ]
        if rows:
            await self._run(self.executor.insert, "analytics_practice_runs", RUN_COLUMNS, rows)

    # ---- the backfill ----

    async def clear(self) -> None:
        # Unlike the relational store nothing is locked: an answer the consumer writes
        # meanwhile is a fact like any other, and the rebuild's recount includes it.
        for table in TABLES:
            await self._run(self.executor.command, f"TRUNCATE TABLE IF EXISTS {table}")

    async def insert_facts(self, answers: Sequence[AnswerRecorded]) -> None:
        rows = [
            (
                a.answer_id,
                a.user_id,
                a.certification,
                a.question_id,
                a.version_id,
                a.subject or "",
                a.context,
                a.correct,
                a.fraction,
                a.elapsed_ms,
                a.answered_at,
                study_day(a.answered_at),
                list(a.choice_ids),
            )
            for a in answers
        ]
        if rows:
            await self._run(self.executor.insert, "analytics_answers", FACT_COLUMNS, rows)

    async def insert_fact_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Facts already in FACT_COLUMNS order (bulk loads)."""
        if rows:
            await self._run(self.executor.insert, "analytics_answers", FACT_COLUMNS, rows)

    async def insert_attempt_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Attempt rows already in ATTEMPT_COLUMNS order (bulk loads)."""
        if rows:
            await self._run(self.executor.insert, "analytics_attempts", ATTEMPT_COLUMNS, rows)

    async def rebuild_rollups(self, choices: Counter[tuple[str, str]]) -> None:
        # The picks are recounted here with ARRAY JOIN; `choices` is for engines without it.
        await self._recount(days="", items="", params={})

    async def _recount(self, *, days: str, items: str, params: Mapping[str, Any]) -> None:
        for template in RECOUNT:
            sql = bind(template.format(days=days, items=items), params)
            await self._run(self.executor.command, sql)

    # ---- the read side ----

    async def rows(self, query: Query, **params: Any) -> list[tuple[Any, ...]]:
        sql = bind(query.sql, params)
        return list(await self._run(self.executor.query, sql, READ_SETTINGS))

    async def close(self) -> None:
        await asyncio.to_thread(self.executor.close)  # type: ignore[attr-defined]
