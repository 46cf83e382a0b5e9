"""A job for the worker tests (`certplatform worker --jobs-module tests.support.slow_job`):
its effect is an outbox row; the first run lingers inside its transaction, so a test can
kill the worker mid-job."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.events import OutboxEvent, record_event
from certplatform.kernel.jobs import current_database, job, run_once

SLOW_JOB = "tests.slow_effect"
TOPIC = "certplatform.tests.job_effect.v1"


@job(SLOW_JOB, retries=2)
async def slow_effect(key: str, runs: str, linger: float) -> None:
    async def effect(uow: UnitOfWork) -> bool:
        record_event(uow.session, TOPIC, {"key": key})
        await uow.session.flush()
        # One line per run that reached the effect; the first run lingers there.
        if await asyncio.to_thread(_note, runs, str(os.getpid())) == 1:
            await asyncio.sleep(linger)
        return True

    if await run_once(current_database(), key, SLOW_JOB, effect) is None:
        await asyncio.to_thread(_note, runs, f"skipped-{os.getpid()}")


def _note(path: str, line: str) -> int:
    """Append `line`; how many lines the file has now."""
    with Path(path).open("a+") as out:
        out.write(line + "\n")
        out.seek(0)
        return len(out.read().split())


__all__ = ["SLOW_JOB", "TOPIC", "OutboxEvent", "slow_effect"]
