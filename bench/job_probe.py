"""The job `bench/job_throughput.py` sends (`certplatform worker --jobs-module bench.job_probe`):
its effect is `run_once`'s own record of the key; after the commit it pushes `key time` to a
Redis list under the run's prefix, which ends the job's latency."""

from __future__ import annotations

import os
import time

from redis.asyncio import Redis

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.jobs import current_database, job, run_once

PROBE_JOB = "bench.probe"
DONE_LIST = "probe-done"
_redis: Redis | None = None


@job(PROBE_JOB, retries=0)
async def probe(key: str) -> None:
    global _redis

    async def effect(_: UnitOfWork) -> None:
        return None

    await run_once(current_database(), key, PROBE_JOB, effect)
    if _redis is None:
        _redis = Redis.from_url(os.environ["REDIS_URL"])
    await _redis.rpush(os.environ["REDIS_PREFIX"] + DONE_LIST, f"{key} {time.time()}")
