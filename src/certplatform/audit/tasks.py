"""Background work of the audit context: publishing checkpoints of the chain head."""

from __future__ import annotations

import asyncio

import structlog

from certplatform.audit import service
from certplatform.audit.chain import Keyring
from certplatform.kernel.db import Database
from certplatform.kernel.errors import AppError
from certplatform.kernel.storage import LocalStorage

log = structlog.get_logger(__name__)


async def run_checkpointer(
    db: Database,
    store: LocalStorage,
    keys: Keyring,
    *,
    interval: float,
    every_entries: int,
    every_minutes: float,
) -> None:
    """Every `interval` seconds, publish a checkpoint if one is due (ADR 0012)."""
    while True:
        try:
            async with db.transaction() as uow:
                await service.checkpoint(
                    uow,
                    store,
                    keys=keys,
                    every_entries=every_entries,
                    every_minutes=every_minutes,
                )
        except AppError as exc:
            # A broken chain is not checkpointed; say so loudly, keep watching.
            log.error("audit.checkpoint_refused", reason=exc.message)
        except Exception:
            log.exception("audit.checkpoint_failed")
        await asyncio.sleep(interval)
