"""Background jobs of the learning context: the deadline sweeper.

An attempt whose learner walked away is submitted and graded when its deadline (plus the
grace period) has passed, so results never wait for the learner to come back. The job needs
no idempotency record: each submission is conditional on the attempt still being open, so
a sweep delivered twice submits nothing twice.
"""

from __future__ import annotations

import structlog

from certplatform.kernel.db import Database
from certplatform.kernel.errors import AppError
from certplatform.kernel.jobs import Periodic, current_database, job
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


SWEEP_JOB = "learning.sweep_deadlines"


@job(SWEEP_JOB)
async def sweep_deadlines_job(key: str, grace_seconds: float, clear_after: int = 2) -> int:
    return await sweep_deadlines(current_database(), grace_seconds, clear_after)


def sweeper(interval: float, grace_seconds: float, clear_after: int) -> Periodic:
    """The sweep as a periodic job, every `interval` seconds."""
    return Periodic(
        SWEEP_JOB, interval, {"grace_seconds": grace_seconds, "clear_after": clear_after}
    )
