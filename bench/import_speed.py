"""Import throughput: questions per second for the FCC and CSV importers.

FCC: both demo pools (832 questions) into a fresh database, parse + write, 3 runs.
CSV: 100,000 generated Korean/English questions in the default CSV layout, parse + write.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import time
from pathlib import Path

from bench.common import BACKENDS, fresh_database, report, sentence
from certplatform.content import service
from certplatform.content.formats import csv_format, fcc_json
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

POOLS = Path(__file__).resolve().parents[1] / "src/certplatform/demo/data/fcc"
CSV_ROWS = 100_000


def make_csv(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "code",
            "subject",
            "topic",
            "question",
            "choice_a",
            "choice_b",
            "choice_c",
            "choice_d",
            "answer",
            "explanation",
            "tags",
        ]
    )
    for n in range(rows):
        subject = f"S{n % 5 + 1}"
        writer.writerow(
            [
                f"Q{n:06d}",
                subject,
                f"{subject}-{n % 40:02d}",
                sentence(rng, 14) + "?",
                sentence(rng, 4),
                sentence(rng, 4),
                sentence(rng, 4),
                sentence(rng, 4),
                "ABCD"[n % 4],
                sentence(rng, 20),
                f"tag{n % 50}",
            ]
        )
    return out.getvalue().encode()


async def _import(url: str, code: str, drafts: list, storage: LocalStorage) -> float:  # type: ignore[type-arg]
    db = Database(url)
    start = time.perf_counter()
    async with db.transaction() as uow:
        summary = await service.import_drafts(uow, storage, code, drafts)
    elapsed = time.perf_counter() - start
    await db.dispose()
    assert summary.created == len(drafts), summary
    return elapsed


async def run() -> None:
    storage = LocalStorage(Path("var/bench-media"))
    pools = [p.read_bytes() for p in sorted(POOLS.glob("*.json"))]
    csv_bytes = make_csv(CSV_ROWS)
    for backend in BACKENDS:
        url = await fresh_database(backend, "import")
        rates = []
        for run_no in range(3):
            start = time.perf_counter()
            total = 0
            for i, data in enumerate(pools):
                parsed = fcc_json.parse(data, media_dir=POOLS)
                await _import(url, f"FCC-{run_no}-{i}", parsed.drafts, storage)
                total += len(parsed.drafts)
            rates.append(total / (time.perf_counter() - start))
        report("import", "fcc_questions_per_s", max(rates), "q/s", backend)

        start = time.perf_counter()
        parsed_csv = csv_format.parse(csv_bytes)
        parse_s = time.perf_counter() - start
        assert not parsed_csv.errors, parsed_csv.errors[:3]
        write_s = await _import(url, "CSV-100K", parsed_csv.drafts, storage)
        total_s = parse_s + write_s
        report("import", "csv_100k_seconds", total_s, "s", backend)
        report("import", "csv_questions_per_s", CSV_ROWS / total_s, "q/s", backend)
        report("import", "csv_parse_seconds", parse_s, "s", backend)


def main() -> None:
    asyncio.run(run())
