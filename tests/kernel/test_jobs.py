"""Jobs (ADR 0022): sent only after the commit, retried with backoff, their effect once even
when a worker is killed mid-job (real worker processes, real Redis, both databases)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from sqlalchemy import func, select

from certplatform.app import create_app
from certplatform.kernel import jobs
from certplatform.kernel.db import Database
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.settings import Settings
from tests.support.redis import PrivateRedis, drop_prefix, run_prefix, shared_redis_url
from tests.support.slow_job import SLOW_JOB, TOPIC

attempts: list[float] = []


@jobs.job("tests.flaky", retries=3)
async def flaky(key: str, fail_times: int) -> str:
    attempts.append(time.monotonic())
    if len(attempts) <= fail_times:
        raise RuntimeError("not yet")
    return key


@pytest_asyncio.fixture
async def redis_jobs() -> AsyncIterator[str]:
    """This test process sends jobs to a Redis stream of its own prefix."""
    prefix = run_prefix()
    broker = jobs.configure(shared_redis_url(), prefix, redeliver_after_s=2)
    await broker.startup()
    try:
        yield prefix
    finally:
        await broker.shutdown()
        jobs.configure(None, prefix)
        drop_prefix(shared_redis_url(), prefix)


async def test_a_job_leaves_only_after_the_commit(db: Database, redis_jobs: str) -> None:
    queue = redis.Redis.from_url(shared_redis_url())
    stream = redis_jobs + "jobs"

    async def failing_request() -> None:
        async with db.transaction() as uow:
            jobs.enqueue_after_commit(uow, SLOW_JOB, runs="/dev/null", linger=0)
            assert queue.xlen(stream) == 0  # not before the commit either
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    assert queue.xlen(stream) == 0
    async with db.transaction() as uow:
        key = jobs.enqueue_after_commit(uow, SLOW_JOB, runs="/dev/null", linger=0)
        assert queue.xlen(stream) == 0
    assert queue.xlen(stream) == 1
    assert key.encode() in queue.xrange(stream)[0][1][b"data"]
    queue.close()


async def test_a_failing_job_is_retried_with_growing_delays(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "BACKOFF_BASE_S", 0.2)
    attempts.clear()
    await jobs.enqueue("tests.flaky", None, fail_times=2)
    for _ in range(100):
        if len(attempts) == 3:
            break
        await asyncio.sleep(0.05)
    assert len(attempts) == 3, attempts
    first, second = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 0.15 <= first <= 0.6  # 0.2 s ± jitter
    assert 0.3 <= second <= 1.0  # 0.4 s ± jitter: the delay doubles
    assert second > first


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "certplatform.cli",
                "worker",
                "--jobs-module",
                "tests.support.slow_job",
            ],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _effects(db: Database, key: str) -> int:
    async with db.transaction() as uow:
        rows = (
            (
                await uow.session.execute(
                    select(OutboxEvent.payload).where(OutboxEvent.topic == TOPIC)
                )
            )
            .scalars()
            .all()
        )
    return sum(1 for payload in rows if payload.get("key") == key)


async def _until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


async def test_a_worker_killed_mid_job_the_job_runs_again_and_its_effect_happens_once(
    db: Database, database_url: str, media_dir: Path, redis_jobs: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "REDIS_URL": shared_redis_url(),
        "REDIS_PREFIX": redis_jobs,
        "JOB_REDELIVER_SECONDS": "2",
        "SWEEPER_INTERVAL": "0",
        "CLEANUP_INTERVAL": "0",
        "EVENT_RELAY_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    runs = tmp_path / "runs.log"
    log = tmp_path / "workers.log"
    first = _worker(env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        key = await jobs.enqueue(SLOW_JOB, None, runs=str(runs), linger=60)

        async def started() -> bool:
            return await asyncio.to_thread(runs.exists)

        await _until(started, 60, "the first worker starts the job")
        first.send_signal(signal.SIGKILL)  # mid-job: its transaction is open, not committed
        first.wait(timeout=10)
        assert await _effects(db, key) == 0

        second = _worker(env, log)

        async def done() -> bool:
            return await _effects(db, key) == 1

        await _until(done, 60, "another worker runs the job again to its end")
        lines = (await asyncio.to_thread(runs.read_text)).split()
        assert lines == [str(first.pid), str(second.pid)]

        # The same message once more (as a retry racing its original would be): no effect.
        await jobs.enqueue(SLOW_JOB, key, runs=str(runs), linger=60)

        async def skipped() -> bool:
            return "skipped" in await asyncio.to_thread(runs.read_text)

        await _until(skipped, 30, "the duplicate is taken and found done")
        assert await _effects(db, key) == 1
        async with db.transaction() as uow:
            recorded = await uow.session.scalar(
                select(func.count()).select_from(jobs.JobRun).where(jobs.JobRun.key == key)
            )
        assert recorded == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def test_the_app_and_a_worker_start_without_redis_and_run_jobs_once_it_is_back(
    settings: Settings, db: Database, database_url: str, media_dir: Path, tmp_path: Path
) -> None:
    server = PrivateRedis(tmp_path)  # not started yet: Redis is down
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "REDIS_URL": server.url,
        "SWEEPER_INTERVAL": "0",
        "CLEANUP_INTERVAL": "0",
        "EVENT_RELAY_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    worker = _worker(env, tmp_path / "worker.log")
    app = create_app(settings.model_copy(update={"redis_url": server.url}))
    runs = tmp_path / "runs.log"
    try:
        async with app.router.lifespan_context(app):
            async with db.transaction() as uow:  # a request's job while Redis is down
                jobs.enqueue_after_commit(uow, SLOW_JOB, runs=str(runs), linger=0)
            server.start()
            key = await jobs.enqueue(SLOW_JOB, None, runs=str(runs), linger=0)

            async def done() -> bool:
                return await _effects(db, key) == 1

            await _until(done, 60, "the worker takes the job once Redis is back")
        assert worker.poll() is None  # it waited for Redis instead of exiting
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        server.stop()
