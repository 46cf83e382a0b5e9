"""Search latency over 100,000 questions: p50/p95 of ranked full-text queries.

The bank is `bench.corpus` (Zipf-distributed vocabulary, exam phrasing). Queries are
single words of three frequency classes, two-word queries, queries with a particle, and the
exam phrase word 옳은, which appears in about half of all stems (the worst case).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.common import BACKENDS, fresh_database, report, summary
from bench.corpus import make_csv
from certplatform.content import service
from certplatform.content.formats import csv_format
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

QUESTIONS = 100_000
ROUNDS = 3


async def run() -> None:
    data, corpus = make_csv(QUESTIONS, seed=11)
    parsed = csv_format.parse(data)
    words = corpus.query_words()
    korean = [w for w in words["medium"] if "\uac00" <= w[0] <= "\ud7a3"]
    queries = {
        "content_words": words["common"] + words["medium"] + words["rare"]
        + [f"{a} {b}" for a, b in zip(words["medium"], words["rare"], strict=False)]
        + [w + "에" for w in korean],
        "common_phrase_word": ["옳은", "것은", "다음"],
    }  # fmt: skip
    storage = LocalStorage(Path("var/bench-media"))
    for backend in BACKENDS:
        url = await fresh_database(backend, "search")
        db = Database(url)
        async with db.transaction() as uow:
            await service.import_drafts(uow, storage, "BENCH", parsed.drafts)
        rng = random.Random(3)
        async with db.transaction() as uow:
            for name, qs in queries.items():
                plain: list[float] = []
                filtered: list[float] = []
                for _ in range(ROUNDS):
                    for query in rng.sample(qs, len(qs)):
                        start = time.perf_counter()
                        await service.find_questions(uow, query=query, limit=20)
                        plain.append((time.perf_counter() - start) * 1000)
                        start = time.perf_counter()
                        await service.find_questions(
                            uow, query=query, certification_code="BENCH", subject_code="S2",
                            limit=20,
                        )  # fmt: skip
                        filtered.append((time.perf_counter() - start) * 1000)
                for label, values in ((name, plain), (f"{name}_filtered", filtered)):
                    stats = summary(values)
                    report("search", f"{label}_p50", stats["p50"], "ms", backend)
                    report("search", f"{label}_p95", stats["p95"], "ms", backend)
        await db.dispose()


def main() -> None:
    asyncio.run(run())
