"""Every query of the audit context. There is no update or delete: the log is append-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.audit.models import HASHED_FIELDS, AuditEntry

# Any constant works as long as nothing else takes the same advisory lock: b"cp-audit".
APPEND_LOCK_KEY = int.from_bytes(b"cp-audit", "big")


async def lock_for_append(session: AsyncSession) -> None:
    """Hold the append lock until the transaction ends, so appends form one chain.

    PostgreSQL: a transaction-scoped advisory lock. SQLite has one writer at a time, but
    the driver only opens the transaction at the first write, so a read of the chain head
    could go stale; a write that touches no row takes the write lock first.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK_KEY)))
    else:
        # Zero rows match, so the row triggers that refuse updates never fire.
        await session.execute(text("UPDATE audit_entries SET seq = seq WHERE 0 = 1"))


async def by_event_id(session: AsyncSession, event_id: str) -> AuditEntry | None:
    return await session.scalar(select(AuditEntry).where(AuditEntry.event_id == event_id))


async def known_event_ids(session: AsyncSession, event_ids: list[str]) -> set[str]:
    """Which of these event ids already have an entry."""
    if not event_ids:
        return set()
    query = select(AuditEntry.event_id).where(AuditEntry.event_id.in_(event_ids))
    return {str(event_id) for event_id in (await session.scalars(query)).all()}


async def head(session: AsyncSession) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry, or None when the log is empty."""
    row = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return (row.seq, row.hash) if row else None


# The hashed fields first, so `row[:len(HASHED_FIELDS)]` is what the hash covers.
CHAIN_COLUMNS = tuple(
    AuditEntry.__table__.c[name] for name in (*HASHED_FIELDS, "alg", "key_id", "hash")
)


async def chain_batch(session: AsyncSession, *, from_seq: int, limit: int) -> Sequence[Row[Any]]:
    """The next `limit` entries with seq >= `from_seq`, in seq order, as rows of CHAIN_COLUMNS.

    Core rows, not ORM objects: nothing accumulates in the session while a long log is
    walked, and the ORM's per-row cost is skipped.
    """
    seq = AuditEntry.__table__.c.seq
    query = select(*CHAIN_COLUMNS).where(seq >= from_seq).order_by(seq).limit(limit)
    connection = await session.connection()
    return (await connection.execute(query)).all()


async def list_entries(
    session: AsyncSession,
    *,
    action_prefix: str | None,
    actor_id: str | None,
    subject_type: str | None,
    subject_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    return list((await session.scalars(query)).all())
