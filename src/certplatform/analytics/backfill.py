"""Rebuild the analytics store from the learning tables (`certplatform analytics backfill`).

Pages through the learning log as the same event contracts the consumer reads, inserts the
facts in batches and recounts the rollups in SQL: the result equals what the consumer built
incrementally (a test checks it), in a fraction of the time for millions of answers.
It writes through the analytics port, so it rebuilds whichever store serves (ADR 0031).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from certplatform.analytics.port import AnalyticsStore, store_for
from certplatform.kernel.db import UnitOfWork
from certplatform.learning import history

PAGE = 5_000


@dataclass(frozen=True)
class BackfillReport:
    answers: int
    attempts: int
    practice_runs: int


async def backfill(
    uow: UnitOfWork, page: int = PAGE, store: AnalyticsStore | None = None
) -> BackfillReport:
    """Clear the store and rebuild it (the relational one in the caller's transaction)."""
    session = uow.session
    target = store or store_for(session)
    await target.clear()
    choices: Counter[tuple[str, str]] = Counter()
    answers, after = 0, ""
    while batch := await history.answers_after(uow, after, page):
        await target.insert_facts(batch)
        for a in batch:
            for choice in a.choice_ids:
                choices[(a.question_id, choice)] += 1
        answers += len(batch)
        after = batch[-1].answer_id
    await target.rebuild_rollups(choices)
    attempts, after = 0, ""
    while rows := await history.attempts_after(uow, after, page):
        await target.record_attempts_started([started for _, started, _ in rows])
        await target.record_attempts_graded([graded for _, _, graded in rows if graded])
        attempts += len(rows)
        after = rows[-1][0]
    runs, after = 0, ""
    while practice := await history.practice_runs_after(uow, after, page):
        await target.record_practice_runs(practice)
        runs += len(practice)
        after = practice[-1].session_id
    await session.flush()
    return BackfillReport(answers=answers, attempts=attempts, practice_runs=runs)
