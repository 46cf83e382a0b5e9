"""Tampering with the audit log the way someone with database access would (tests only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from certplatform.audit import service
from certplatform.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEntry
from certplatform.kernel.db import Database


@asynccontextmanager
async def unprotected(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection on which the append-only triggers are lifted, as a database owner can."""
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            saved = (
                await conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'trigger' AND tbl_name = 'audit_entries'"
                    )
                )
            ).all()
            assert len(saved) == 2
            for name, _ in saved:
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
            yield conn
            for _, sql in saved:
                await conn.exec_driver_sql(sql)
        else:
            await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            yield conn
            await conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))


async def rewrite_keyless(
    db: Database, seq: int, *, last: int | None = None, mark_unkeyed: bool = False
) -> None:
    """Change entry `seq`'s data, then recompute every hash from there to the head (or to
    `last`) with the application's own keyless hash function, so that the links fit again.

    `mark_unkeyed` also labels the rewritten entries as old, keyless ones (a downgrade).
    """
    columns = [AuditEntry.__table__.c[name] for name in (*HASHED_FIELDS, "id")]
    async with unprotected(db) as conn:
        rows = (await conn.execute(select(*columns).order_by(AuditEntry.seq))).all()
        prev = GENESIS_HASH
        for row in rows:
            if last is not None and row.seq > last:
                break
            if row.seq < seq:
                prev = (
                    await conn.execute(select(AuditEntry.hash).where(AuditEntry.id == row.id))
                ).scalar_one()
                continue
            fields = {name: getattr(row, name) for name in HASHED_FIELDS}
            fields["prev_hash"] = prev
            if row.seq == seq:
                fields["data"] = {**row.data, "forged": True}
            prev = service.entry_hash(**fields)
            changes: dict[str, object] = {
                "data": fields["data"],
                "prev_hash": fields["prev_hash"],
                "hash": prev,
            }
            if mark_unkeyed:
                changes |= {"alg": "sha256-v1", "key_id": None}
            await conn.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(changes))
