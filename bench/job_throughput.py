"""Jobs through taskiq on the Redis broker (ADR 0022), run by `certplatform worker` processes
as deployed (WORKERS of them, each CONCURRENCY jobs at once), each job one `run_once`
transaction (its idempotency key recorded in `job_runs`).

- `jobs_per_s`: a backlog of JOBS sent at once, from the first send to the last job's commit.
- `latency_p50/p95`: jobs sent at RATE/s for SECONDS; from the send to the job's commit
  (the job notes the time after its transaction committed), in ms.

Redis: the shared server (BENCH_REDIS_URL, else redis://127.0.0.1:6379/0) under a prefix of
this run, deleted afterwards. PostgreSQL only by default (several workers on one SQLite
file would measure its write lock); BENCH_BACKENDS=sqlite,postgresql runs both.

    python -m bench job_throughput
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import redis
from sqlalchemy import func, select

from bench.common import fresh_database, report, summary
from bench.job_probe import DONE_LIST, PROBE_JOB
from certplatform.kernel import jobs
from certplatform.kernel.db import Database
from certplatform.kernel.jobs import JobRun

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = os.environ.get("BENCH_BACKENDS", "postgresql").split(",")
WORKERS = int(os.environ.get("BENCH_JOB_WORKERS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_JOB_CONCURRENCY", "8"))
JOBS = int(os.environ.get("BENCH_JOBS", "3000"))
RATE = int(os.environ.get("BENCH_JOB_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_JOB_SECONDS", "5"))


def start_workers(database_url: str, prefix: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS,
        "REDIS_PREFIX": prefix,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "LEAN_SAVE": "false",  # no answer-save pool in a worker: fewer connections
        "SWEEPER_INTERVAL": "0",
        "CLEANUP_INTERVAL": "0",
        "EVENT_RELAY_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    command = [sys.executable, "-m", "certplatform.cli", "worker", "--jobs-module"]
    command += ["bench.job_probe", "--concurrency", str(CONCURRENCY)]
    return [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(WORKERS)]


async def done(db: Database, tag: str) -> int:
    async with db.sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(JobRun.key.like(f"{tag}:%"))) or 0
        )


async def until_done(db: Database, tag: str, total: int, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while await done(db, tag) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tag}: {await done(db, tag)} of {total} jobs done")
        await asyncio.sleep(0.05)


async def run(backend: str) -> None:
    database_url = await fresh_database(backend, "job_throughput")
    prefix = f"bench-jobs-{uuid.uuid4().hex[:8]}:"
    broker = jobs.configure(REDIS, prefix)
    await broker.startup()
    db = Database(database_url)
    workers = start_workers(database_url, prefix)
    try:
        await jobs.enqueue(PROBE_JOB, "warm:0")  # the workers are up once it is done
        await until_done(db, "warm", 1, seconds=120)

        start = time.perf_counter()
        for n in range(JOBS):
            await jobs.enqueue(PROBE_JOB, f"burst:{n}")
        sent = time.perf_counter() - start
        await until_done(db, "burst", JOBS)
        elapsed = time.perf_counter() - start
        report("job_throughput", "send_rate", JOBS / sent, "jobs/s", backend)
        report("job_throughput", "jobs_per_s", JOBS / elapsed, "jobs/s", backend)

        sent_at: dict[str, float] = {}
        total = int(RATE * SECONDS)
        begin = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, begin + n / RATE - time.perf_counter()))
            key = f"paced:{n}"
            sent_at[key] = time.time()
            await jobs.enqueue(PROBE_JOB, key)
        await until_done(db, "paced", total)
        client = redis.Redis.from_url(REDIS)
        committed = dict(line.decode().split() for line in client.lrange(prefix + DONE_LIST, 0, -1))
        client.close()
        lags = [(float(committed[key]) - sent) * 1000 for key, sent in sent_at.items()]
        figures = summary(lags)
        report("job_throughput", "latency_p50", figures["p50"], "ms", backend)
        report("job_throughput", "latency_p95", figures["p95"], "ms", backend)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        await broker.shutdown()
        jobs.configure(None, prefix)
        await db.dispose()
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


def main() -> None:
    print(f"{WORKERS} workers x {CONCURRENCY} jobs at once; {JOBS} jobs, then {RATE}/s", flush=True)
    for backend in BACKENDS:
        asyncio.run(run(backend))


if __name__ == "__main__":
    main()
