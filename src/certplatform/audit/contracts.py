"""Audit shapes other contexts and the edges may use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    seq: int
    at: datetime
    action: str
    actor_id: str | None
    actor_email: str | None
    subject_type: str | None
    subject_id: str | None
    ip: str | None
    data: dict[str, Any]
    event_id: str | None
    prev_hash: str
    hash: str


class VerifyResult(BaseModel):
    """The outcome of walking the hash chain from the first entry to the last."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries: int  # entries found intact (all of them when ok)
    first_bad_seq: int | None
    message: str
    # The hash of the last entry checked; noting it elsewhere lets a later check notice
    # entries removed from the end, which the chain alone cannot show.
    head_hash: str | None = None
