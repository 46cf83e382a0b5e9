"""Search latency over 100,000 questions: p50/p95 of ranked full-text queries."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.common import BACKENDS, fresh_database, report, summary
from bench.import_speed import make_csv
from certplatform.content import service
from certplatform.content.formats import csv_format
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

QUESTIONS = 100_000
QUERIES = [
    "법령",
    "로더",
    "정규화를",
    "데이터베이스",
    "트랜잭션 무결성",
    "antenna",
    "radio fre",
    "페이지 교체",
    "암호화",
    "스키마의",
    "repeater",
    "보안",
]
ROUNDS = 25


async def run() -> None:
    parsed = csv_format.parse(make_csv(QUESTIONS, seed=11))
    storage = LocalStorage(Path("var/bench-media"))
    for backend in BACKENDS:
        url = await fresh_database(backend, "search")
        db = Database(url)
        async with db.transaction() as uow:
            await service.import_drafts(uow, storage, "BENCH", parsed.drafts)
        rng = random.Random(3)
        samples: list[float] = []
        filtered: list[float] = []
        async with db.transaction() as uow:
            for _ in range(ROUNDS):
                for query in rng.sample(QUERIES, len(QUERIES)):
                    start = time.perf_counter()
                    found = await service.find_questions(uow, query=query, limit=20)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert found, query
                    start = time.perf_counter()
                    await service.find_questions(
                        uow, query=query, certification_code="BENCH", subject_code="S2", limit=20
                    )
                    filtered.append((time.perf_counter() - start) * 1000)
        await db.dispose()
        for name, values in (("search", samples), ("search_filtered", filtered)):
            stats = summary(values)
            report(name, "latency_p50", stats["p50"], "ms", backend)
            report(name, "latency_p95", stats["p95"], "ms", backend)


def main() -> None:
    asyncio.run(run())
