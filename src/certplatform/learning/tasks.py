"""Background jobs of the learning context: the deadline sweeper.

An attempt whose learner walked away is submitted and graded when its deadline (plus the
grace period) has passed, so results never wait for the learner to come back.
"""

from __future__ import annotations

import asyncio

import structlog

from certplatform.kernel.db import Database
from certplatform.kernel.errors import AppError
from certplatform.kernel.jobs import broker
from certplatform.learning import service

log = structlog.get_logger(__name__)


async def sweep_deadlines(db: Database, grace_seconds: float, clear_after: int = 2) -> int:
    """Submit every expired open attempt, each in its own transaction. Returns how many."""
    async with db.transaction() as uow:
        expired = await service.expired_attempts(uow, grace_seconds)
    done = 0
    for attempt_id in expired:
        try:
            async with db.transaction() as uow:
                await service.submit_attempt(
                    uow, None, attempt_id, by="deadline", clear_after=clear_after
                )
            done += 1
        except AppError as exc:  # e.g. submitted meanwhile by the learner
            log.warning("sweeper.skip", attempt_id=attempt_id, error=exc.message)
    if done:
        log.info("sweeper.submitted", count=done)
    return done


@broker.task(task_name="learning.sweep_deadlines")
async def sweep_deadlines_task(grace_seconds: float, clear_after: int = 2) -> int:
    from certplatform.kernel.jobs import current_database

    return await sweep_deadlines(current_database(), grace_seconds, clear_after)


async def run_sweeper(interval: float, grace_seconds: float, clear_after: int) -> None:
    """Kick the sweep job every `interval` seconds for the life of the process."""
    while True:
        try:
            await sweep_deadlines_task.kiq(grace_seconds, clear_after)
        except Exception:
            log.exception("sweeper.kick_failed")
        await asyncio.sleep(interval)
