"""The public face of audit: append to the hash-chained log, verify it, read it.

Nothing here updates or deletes an entry; the database refuses both as well (ADR 0003).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String

from certplatform.audit import repository as repo
from certplatform.audit.contracts import AuditEntryOut, VerifyResult
from certplatform.audit.models import GENESIS_HASH, AuditEntry
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import Invalid

VERIFY_BATCH = 1000
# Checked here because SQLite ignores column widths and PostgreSQL enforces them: both
# backends must accept exactly the same entries.
LIMITS: dict[str, int] = {
    column.name: column.type.length
    for column in AuditEntry.__table__.c
    if isinstance(column.type, String) and column.type.length
}


def entry_hash(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor_id: str | None,
    actor_email: str | None,
    subject_type: str | None,
    subject_id: str | None,
    ip: str | None,
    data: dict[str, Any],
    event_id: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of an entry's content and the hash before it (ADR 0003)."""
    values = (seq, at, action, actor_id, actor_email, subject_type, subject_id, ip, data)
    return _digest((*values, event_id, prev_hash))


def _digest(values: Sequence[Any]) -> str:
    # Canonical JSON: a fixed-order array of the HASHED_FIELDS, object keys sorted, no
    # spaces, UTF-8; the time as UTC with microseconds.
    fields = list(values)
    at: datetime = fields[1]
    fields[1] = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    fields[8] = _canonical_numbers(fields[8])
    blob = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _canonical_numbers(value: Any) -> Any:
    # PostgreSQL's jsonb keeps numbers by value, not by spelling (1e20 comes back as an
    # integer), so a whole-valued float is hashed as the integer it equals.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(v) for v in value]
    return value


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    """The data exactly as the database will give it back (string keys, lists, no NaN)."""
    try:
        loaded = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Audit data must be plain JSON: {exc}.") from exc
    if not isinstance(loaded, dict):
        raise Invalid("Audit data must be a JSON object.")
    return loaded


def _check_lengths(fields: dict[str, str | None]) -> None:
    for name, value in fields.items():
        if value is not None and len(value) > LIMITS[name]:
            raise Invalid(f"Audit {name} is longer than {LIMITS[name]} characters.")


async def append(
    uow: UnitOfWork,
    *,
    action: str,
    actor_id: str | None = None,
    actor_email: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
    event_id: str | None = None,
    at: datetime | None = None,
) -> AuditEntryOut:
    """Append one entry after the newest one, in the caller's transaction.

    Appends are serialised (one chain, no forks). An `event_id` already in the log
    returns that entry and appends nothing, so redelivered events are harmless.
    """
    if not action.strip():
        raise Invalid("An audit entry needs an action.")
    _check_lengths(
        {
            "action": action,
            "actor_id": actor_id,
            "actor_email": actor_email,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "ip": ip,
            "event_id": event_id,
        }
    )
    if at is not None and at.tzinfo is None:
        raise Invalid("The audit time must be timezone-aware (UTC).")
    payload = _as_json(data or {})
    session = uow.session
    await repo.lock_for_append(session)
    if event_id is not None:
        existing = await repo.by_event_id(session, event_id)
        if existing is not None:
            return AuditEntryOut.model_validate(existing)
    last = await repo.head(session)
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    when = (at or utcnow()).astimezone(UTC)
    fields: dict[str, Any] = {
        "seq": seq,
        "at": when,
        "action": action,
        "actor_id": actor_id,
        "actor_email": actor_email,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "ip": ip,
        "data": payload,
        "event_id": event_id,
        "prev_hash": prev_hash,
    }
    entry = AuditEntry(**fields, hash=entry_hash(**fields))
    session.add(entry)
    await session.flush()
    return AuditEntryOut.model_validate(entry)


async def verify(uow: UnitOfWork, *, batch: int = VERIFY_BATCH) -> VerifyResult:
    """Walk the chain in seq order, `batch` entries at a time, and report the first break.

    Each entry must carry the next seq (a gap means a removed entry), link to the hash of
    the entry before it, and hash to its stored `hash` (else its content was altered).
    """
    expected_seq, prev_hash, after = 1, GENESIS_HASH, None
    while rows := await repo.chain_batch(uow.session, after_seq=after, limit=batch):
        for row in rows:
            if row.seq != expected_seq:
                return _broken(
                    expected_seq - 1,
                    expected_seq,
                    f"Entry {expected_seq} is missing (the next entry is {row.seq}).",
                )
            if row.prev_hash != prev_hash:
                return _broken(
                    expected_seq - 1,
                    row.seq,
                    f"Entry {row.seq} does not link to the entry before it.",
                )
            stored = row.hash
            if _rehash(row[:-1]) != stored:
                return _broken(
                    expected_seq - 1,
                    row.seq,
                    f"Entry {row.seq} was altered: its content does not match its hash.",
                )
            prev_hash = stored
            expected_seq += 1
        after = rows[-1].seq
    count = expected_seq - 1
    noun = "entry" if count == 1 else "entries"
    return VerifyResult(
        ok=True,
        entries=count,
        first_bad_seq=None,
        message=f"Audit log intact: {count} {noun}",
        head_hash=prev_hash if count else None,
    )


def _rehash(values: Sequence[Any]) -> str | None:
    try:
        return _digest(values)
    except (AttributeError, TypeError, ValueError):  # content append cannot write, e.g. NaN
        return None


def _broken(checked: int, seq: int, message: str) -> VerifyResult:
    return VerifyResult(ok=False, entries=checked, first_bad_seq=seq, message=message)


async def list_entries(
    uow: UnitOfWork,
    *,
    action_prefix: str | None = None,
    actor_id: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntryOut]:
    """Entries newest first; `action_prefix` matches e.g. "identity.login"; `since` is
    inclusive and `until` exclusive."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise Invalid(f"'{name}' must be timezone-aware (UTC).")
    if since and until and since >= until:
        raise Invalid("'since' must be before 'until'.")
    rows = await repo.list_entries(
        uow.session,
        action_prefix=action_prefix,
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [AuditEntryOut.model_validate(r) for r in rows]
