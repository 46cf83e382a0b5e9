"""Dashboard latency over 1,000,000 answer events of 2,000 learners (SQLite, PostgreSQL and
ClickHouse embedded as chdb: BENCH_BACKENDS=sqlite,postgresql,chdb).

The bank is the demo 정보처리기사 (its blueprint is what P(pass) simulates). Answer facts
are generated straight into the store (executemany; COPY on PostgreSQL), the rollups are
recounted by the backfill's SQL, and each learner also has review cards (the forecast) and
mock exam scores. Then `analytics.dashboard.dashboard` is timed for random learners, the
whole thing a page or the REST route computes: queries, ability, P(pass), what-ifs; then
again for the same learner (a reload: P(pass) comes from its cache, ADR 32); and, apart,
only the analytics store's reads the dashboard makes (`analytics.queries`, the same
SQL on every engine). On chdb the facts, rollups and attempts live in ClickHouse, the bank
and review cards in a SQLite file beside it.

Knobs (environment): BENCH_EVENTS (default 1,000,000), BENCH_LEARNERS (2,000),
BENCH_SAMPLES (200).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import BACKENDS, fresh_database, report, summary
from certplatform.analytics import dashboard as board
from certplatform.analytics import port, queries, store
from certplatform.analytics.clickhouse.store import ATTEMPT_COLUMNS, ClickHouseStore
from certplatform.analytics.models import AnswerFact, AttemptFact
from certplatform.analytics.port import AnalyticsStore
from certplatform.analytics.relational import RelationalStore
from certplatform.content import service as content
from certplatform.demo import load_certifications
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import ReviewCard

CERT = "KR-INFO-ENGINEER"
LEARNERS = int(os.environ.get("BENCH_LEARNERS", "2000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
DAYS = 90
CARDS = 60  # review cards per learner
ATTEMPTS = 4  # mock exams per learner
EMPTY = (None, None, None, 1)  # no regrade yet; revision 1 = graded
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
CHUNK = 20_000
COLUMNS = (
    "answer_id", "user_id", "certification", "question_id", "version_id", "subject", "context",
    "correct", "fraction", "elapsed_ms", "answered_at", "day", "choice_ids",
)  # fmt: skip


def _answers(pool: list[tuple[str, str, str]], now: datetime, rng: random.Random) -> Any:
    """Tuples in COLUMNS order: each learner has an ability, each question a difficulty."""
    skill = [rng.gauss(0, 1) for _ in range(LEARNERS)]
    hard = {q: rng.gauss(0, 1) for q, _, _ in pool}
    per = EVENTS // LEARNERS
    for u in range(LEARNERS):
        user = f"u{u:031d}"
        for k in range(per):
            qid, version, subject = pool[rng.randrange(len(pool))]
            at = now - timedelta(days=rng.random() * DAYS)
            p = 1 / (1 + 2.718281828 ** (hard[qid] - skill[u]))
            right = rng.random() < p
            yield (
                f"a{u:08d}{k:023d}", user, CERT, qid, version, subject, "practice", right,
                1.0 if right else 0.0, rng.randrange(5_000, 90_000), at, store.study_day(at),
                [str(rng.randrange(1, 5))],
            )  # fmt: skip


async def _fill_clickhouse(ch: ClickHouseStore, rows: Any) -> None:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 5 * CHUNK:  # ClickHouse likes few large inserts
            await ch.insert_fact_rows(batch)
            batch = []
    await ch.insert_fact_rows(batch)
    await ch.rebuild_rollups(Counter())


async def _fill(
    db: Database, backend: str, pool: list[tuple[str, str, str]], ch: ClickHouseStore | None
) -> float:
    rng = random.Random(5)
    now = datetime.now(UTC)
    start = time.perf_counter()
    choices: Counter[tuple[str, str]] = Counter()
    rows = _answers(pool, now, rng)
    async with db.transaction() as uow:
        if ch is not None:
            await _fill_clickhouse(ch, rows)
        elif backend == "postgresql":
            conn = await uow.session.connection()
            raw = (await conn.get_raw_connection()).driver_connection
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                choices[(row[3], row[12][0])] += 1
                batch.append((*row[:12], f'["{row[12][0]}"]'))
                if len(batch) == CHUNK:
                    await raw.copy_records_to_table(
                        "analytics_answers", records=batch, columns=COLUMNS
                    )  # type: ignore[union-attr]
                    batch = []
            if batch:
                await raw.copy_records_to_table("analytics_answers", records=batch, columns=COLUMNS)  # type: ignore[union-attr]
        else:
            batch_dicts: list[dict[str, Any]] = []
            for row in rows:
                choices[(row[3], row[12][0])] += 1
                batch_dicts.append(dict(zip(COLUMNS, row, strict=True)))
                if len(batch_dicts) == CHUNK:
                    await uow.session.execute(insert(AnswerFact), batch_dicts)
                    batch_dicts = []
            if batch_dicts:
                await uow.session.execute(insert(AnswerFact), batch_dicts)
        if ch is None:
            await store.rebuild_rollups(uow.session, choices)
        cards, attempts = [], []
        for u in range(LEARNERS):
            user = f"u{u:031d}"
            for qid, _, _ in rng.sample(pool, CARDS):
                cards.append(
                    {
                        "user_id": user, "question_id": qid, "certification_code": CERT,
                        "state": {}, "due_at": now + timedelta(days=rng.random() * 40 - 5),
                        "reviews": 1, "updated_at": now,
                    }
                )  # fmt: skip
            for k in range(ATTEMPTS):
                at = now - timedelta(days=DAYS - k * 20)
                attempts.append(
                    {
                        "attempt_id": f"t{u:08d}{k:023d}", "user_id": user, "certification": CERT,
                        "form_kind": "blueprint", "form_id": "bp", "form_name": "모의고사",
                        "started_at": at, "submitted_at": at + timedelta(hours=2),
                        "percent": rng.uniform(30, 90), "passed": rng.random() < 0.4,
                        "sections": {},
                    }
                )  # fmt: skip
        for i in range(0, len(cards), CHUNK):
            await uow.session.execute(insert(ReviewCard), cards[i : i + CHUNK])
        if ch is None:
            await uow.session.execute(insert(AttemptFact), attempts)
        else:
            await ch.insert_attempt_rows(
                [
                    (*(a[c] for c in ATTEMPT_COLUMNS[:10]), json.dumps(a["sections"]), *EMPTY)
                    for a in attempts
                ]
            )
    return time.perf_counter() - start


def _serving(ch: ClickHouseStore) -> port.StoreFactory:
    return lambda _session: ch


async def _store_reads(analytics: AnalyticsStore, user: str, ids: list[str]) -> None:
    """The analytics store's part of one dashboard: every read query it makes."""
    today = board.study_today()
    await queries.answers_per_day(analytics, user, CERT, today - timedelta(days=14))
    await queries.seen(analytics, user, CERT)
    await queries.study_days(analytics, user, today - timedelta(days=400))
    await queries.scores(analytics, user, CERT)
    await queries.subject_days(analytics, user, CERT)
    await queries.regrades(analytics, user, since=datetime.now(UTC) - timedelta(days=30))
    await queries.item_counts(analytics, ids)
    await queries.my_latest_answers(analytics, user, CERT)


async def run() -> None:
    storage = LocalStorage(Path("var/bench-media"))
    for backend in BACKENDS:
        ch = None
        if backend == "chdb":  # one embedded ClickHouse per process
            ch = ClickHouseStore.embedded(tempfile.mkdtemp(prefix="bench-dashboard-chdb-"))
        url = await fresh_database("sqlite" if ch else backend, "dashboard")
        db = Database(url)
        await load_certifications(db, storage, {CERT})
        async with db.transaction() as uow:
            entries = await content.practice_pool(uow, CERT)
            versions = await content.current_versions(uow, [e.question_id for e in entries])
        pool = [(e.question_id, versions[e.question_id].id, e.subject_code or "") for e in entries]
        seconds = await _fill(db, backend, pool, ch)
        report("dashboard", f"generate_{EVENTS}_answers_s", seconds, "s", backend)
        previous = port.use(_serving(ch) if ch else RelationalStore)
        rng = random.Random(9)
        times: list[float] = []
        reloads: list[float] = []
        reads: list[float] = []
        for n in range(SAMPLES + 10):
            user = f"u{rng.randrange(LEARNERS):031d}"
            me = Principal(user, f"{user}@bench", "learner", "", "bearer", "bench")
            # A learner's first load computes P(pass); a reload with nothing new answered
            # reads it from the cache (the learner opening the page again, another tab).
            board.PASS_CACHE.clear()  # every first load cold, even a repeated learner
            for sample in (times, reloads):
                start = time.perf_counter()
                async with db.transaction() as uow:
                    result = await board.dashboard(uow, me, CERT)
                if n >= 10:  # the first calls warm caches and imports
                    sample.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            async with db.transaction() as uow:
                await _store_reads(port.store_for(uow.session), user, [q for q, _, _ in pool])
            if n >= 10:
                reads.append((time.perf_counter() - start) * 1000)
        port.use(previous)
        assert result.pass_chance is not None
        assert result.seen > 0
        for label, value in summary(times).items():
            report("dashboard", f"dashboard_{label}", value, "ms", backend)
        for label, value in summary(reloads).items():
            report("dashboard", f"dashboard_reload_{label}", value, "ms", backend)
        for label, value in summary(reads).items():
            report("dashboard", f"store_reads_{label}", value, "ms", backend)
        await db.dispose()


def main() -> None:
    asyncio.run(run())
