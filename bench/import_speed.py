"""Import throughput: questions per second for the FCC and CSV importers.

FCC: both demo pools (832 questions) into a fresh database, parse + write, 3 runs.
CSV: 100,000 generated Korean/English questions in the default CSV layout, parse + write.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.common import BACKENDS, fresh_database, report
from bench.corpus import make_csv
from certplatform.content import service
from certplatform.content.formats import csv_format, fcc_json
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage

POOLS = Path(__file__).resolve().parents[1] / "src/certplatform/demo/data/fcc"
CSV_ROWS = 100_000


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
    csv_bytes, _ = make_csv(CSV_ROWS)
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
