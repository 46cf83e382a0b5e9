"""Audit shapes other contexts and the edges may use."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

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
    alg: str  # "hmac-sha256-v2", or "sha256-v1" for entries written before keying
    key_id: str | None


class VerifyResult(BaseModel):
    """The outcome of walking the hash chain and comparing it with its checkpoints.

    `status`: "intact"; "tampered" (an entry or a checkpoint was altered, removed or
    relinked: `first_bad_seq` names the first one); "truncated" (a checkpointed entry is
    gone from the end of the log: `first_bad_seq` is the lowest such checkpoint's seq).
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    status: Literal["intact", "tampered", "truncated"]
    entries: int  # entries found intact (all of them when ok)
    first_bad_seq: int | None
    message: str
    # The newest entry checked; checkpoints of it, kept outside the database, let a later
    # check notice entries removed from the end, which the chain alone cannot show.
    head_hash: str | None = None
    head_seq: int | None = None
