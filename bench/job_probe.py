"""The job `bench/job_throughput.py` sends (`certplatform worker --jobs-module bench.job_probe`):
its whole effect is `run_once`'s own record of the key, whose `done_at` ends the latency."""

from __future__ import annotations

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.jobs import current_database, job, run_once

PROBE_JOB = "bench.probe"


@job(PROBE_JOB, retries=0)
async def probe(key: str) -> None:
    async def effect(_: UnitOfWork) -> None:
        return None

    await run_once(current_database(), key, PROBE_JOB, effect)
