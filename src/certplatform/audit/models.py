"""Tables of the audit context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from certplatform.kernel.db import Base, IdMixin, JSONType, UTCDateTime

GENESIS_HASH = "0" * 64
# The columns an entry's hash covers, in the order they are hashed.
HASHED_FIELDS = (
    "seq",
    "at",
    "action",
    "actor_id",
    "actor_email",
    "subject_type",
    "subject_id",
    "ip",
    "data",
    "event_id",
    "prev_hash",
)


class AuditEntry(IdMixin, Base):
    """One recorded action, linked to the entry before it by `prev_hash`.

    Lifecycle: appended once by `audit.service.append` and never changed. `seq` runs 1..N
    without gaps; `hash` covers the entry's canonical content including `prev_hash`, so
    editing, removing or reordering any entry breaks every link after it. `alg` says how:
    "hmac-sha256-v2" is an HMAC with the key named by `key_id`, which is not in the
    database (ADR 0012); "sha256-v1" is the keyless hash of entries written before that,
    accepted only ahead of the first keyed entry. Database triggers refuse UPDATE and
    DELETE (migration 0002).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_subject", "subject_type", "subject_id"),)

    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The outbox event this entry records; unique so a redelivered event appends nothing.
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Rows from before migration 0009 get the keyless algorithm they were written with.
    alg: Mapped[str] = mapped_column(String(20), server_default="sha256-v1")
    key_id: Mapped[str | None] = mapped_column(String(32))
