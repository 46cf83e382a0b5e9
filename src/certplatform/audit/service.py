"""The public face of audit: append to the hash-chained log, verify it, read it.

Nothing here updates or deletes an entry; the database refuses both as well (ADR 0003).
Entries are keyed and the head is checkpointed outside the database (ADR 0012).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row, String, insert

from certplatform.audit import repository as repo
from certplatform.audit.chain import (
    CHECKPOINT_JOURNAL,
    KEYED_ALG,
    LEGACY_ALG,
    Checkpoint,
    Keyring,
    keyed_hash,
    legacy_hash,
    utc_text,
)
from certplatform.audit.contracts import AuditEntryOut, VerifyResult
from certplatform.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEntry
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Invalid
from certplatform.kernel.settings import get_settings
from certplatform.kernel.storage import LocalStorage

log = structlog.get_logger(__name__)

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
    keys: Keyring | None = None,
) -> str:
    """The entry's hash: HMAC with the current audit key, or (no `keys`) the keyless
    SHA-256 of entries written before ADR 0012."""
    values = (seq, at, action, actor_id, actor_email, subject_type, subject_id, ip, data)
    if keys is None:
        return legacy_hash((*values, event_id, prev_hash))
    return keyed_hash(keys.current, keys.current_id, (*values, event_id, prev_hash))


def default_keyring() -> Keyring:
    return Keyring.from_settings(get_settings())


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    """The data exactly as the database will give it back (string keys, lists, no NaN)."""
    try:
        loaded = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise Invalid(N_("Audit data must be plain JSON: %(problem)s."), problem=str(exc)) from exc
    if not isinstance(loaded, dict):
        raise Invalid("Audit data must be a JSON object.")
    return loaded


def _check_lengths(fields: dict[str, str | None]) -> None:
    for name, value in fields.items():
        if value is not None and len(value) > LIMITS[name]:
            raise Invalid(
                N_("Audit %(field)s is longer than %(limit)s characters."),
                field=name,
                limit=LIMITS[name],
            )


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
    keys: Keyring | None = None,
) -> AuditEntryOut:
    """Append one entry after the newest one, in the caller's transaction.

    Appends are serialised (one chain, no forks). An `event_id` already in the log
    returns that entry and appends nothing, so redelivered events are harmless. The entry
    is keyed with the current audit key (`keys`, else the one in the settings).
    """
    keys = keys or default_keyring()
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
    entry = AuditEntry(
        **fields, alg=KEYED_ALG, key_id=keys.current_id, hash=entry_hash(**fields, keys=keys)
    )
    session.add(entry)
    await session.flush()
    return AuditEntryOut.model_validate(entry)


@dataclass(frozen=True)
class Draft:
    """One entry to append (the arguments of `append`)."""

    action: str
    actor_id: str | None = None
    actor_email: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    ip: str | None = None
    data: dict[str, Any] | None = None
    event_id: str | None = None
    at: datetime | None = None


async def append_many(uow: UnitOfWork, drafts: list[Draft], keys: Keyring | None = None) -> int:
    """`append` for a batch: one lock, one look for known event ids, one head read and one
    flush for all of them (the event relay's path). Returns how many were appended."""
    keys = keys or default_keyring()
    for draft in drafts:
        if not draft.action.strip():
            raise Invalid("An audit entry needs an action.")
        _check_lengths(
            {
                "action": draft.action,
                "actor_id": draft.actor_id,
                "actor_email": draft.actor_email,
                "subject_type": draft.subject_type,
                "subject_id": draft.subject_id,
                "ip": draft.ip,
                "event_id": draft.event_id,
            }
        )
        if draft.at is not None and draft.at.tzinfo is None:
            raise Invalid("The audit time must be timezone-aware (UTC).")
    session = uow.session
    await repo.lock_for_append(session)
    seen = await repo.known_event_ids(session, [d.event_id for d in drafts if d.event_id])
    last = await repo.head(session)
    seq, prev_hash = last if last else (0, GENESIS_HASH)
    entries = []
    for draft in drafts:
        if draft.event_id is not None:
            if draft.event_id in seen:
                continue
            seen.add(draft.event_id)
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "at": (draft.at or utcnow()).astimezone(UTC),
            "action": draft.action,
            "actor_id": draft.actor_id,
            "actor_email": draft.actor_email,
            "subject_type": draft.subject_type,
            "subject_id": draft.subject_id,
            "ip": draft.ip,
            "data": _as_json(draft.data or {}),
            "event_id": draft.event_id,
            "prev_hash": prev_hash,
        }
        prev_hash = entry_hash(**fields, keys=keys)
        entries.append(
            {
                **fields,
                "id": new_id(),
                "alg": KEYED_ALG,
                "key_id": keys.current_id,
                "hash": prev_hash,
            }
        )
    if entries:  # one multi-row INSERT: a batch costs about what one entry did
        await session.execute(insert(AuditEntry), entries)
    return len(entries)


@dataclass
class _Walk:
    """Where a walk along the chain stands."""

    expected_seq: int
    # None: the first entry's link is taken as given, because a checkpoint vouches for it.
    prev_hash: str | None
    keyed_seen: bool = False
    legacy: int = 0
    checked: int = 0


async def verify(
    uow: UnitOfWork,
    *,
    batch: int = VERIFY_BATCH,
    keys: Keyring | None = None,
    store: LocalStorage | None = None,
    since_checkpoint: bool = False,
) -> VerifyResult:
    """Walk the chain in seq order, `batch` entries at a time, and report the first break.

    Each entry must carry the next seq (a gap means a removed entry), link to the hash of
    the entry before it, and carry the HMAC of its content under a configured key (or, only
    before the first keyed entry, the keyless hash of older entries). With `store`, every
    checkpoint published there must be signed, match the entry it names, and that entry must
    still exist: otherwise the newest entries were cut off (`status="truncated"`).
    `since_checkpoint` starts at the newest checkpoint instead of the first entry.
    """
    keys = keys or default_keyring()
    checkpoints: list[Checkpoint] = []
    if store is not None:
        loaded = _load_checkpoints(store, keys)
        if isinstance(loaded, VerifyResult):
            return loaded
        checkpoints = loaded
    if since_checkpoint and checkpoints:
        newest = max(checkpoints, key=lambda c: c.seq)
        walk, anchors = _Walk(newest.seq, None), [newest]
    else:
        walk, anchors = _Walk(1, GENESIS_HASH), checkpoints
    by_seq: dict[int, list[Checkpoint]] = {}
    for anchor in anchors:
        by_seq.setdefault(anchor.seq, []).append(anchor)

    while rows := await repo.chain_batch(uow.session, from_seq=walk.expected_seq, limit=batch):
        for row in rows:
            problem = _check(row, walk, keys, by_seq.get(row.seq, []))
            if problem:
                return _broken(walk.checked, min(row.seq, walk.expected_seq), problem)
            walk.prev_hash = row.hash
            walk.expected_seq += 1
            walk.checked += 1

    last_seq = walk.expected_seq - 1
    lost = [c for c in anchors if c.seq > last_seq]
    if lost:
        first = min(lost, key=lambda c: c.seq)
        head = await repo.head(uow.session)
        end = f"the log ends at entry {head[0]}" if head else "the log is empty"
        return VerifyResult(
            ok=False,
            status="truncated",
            entries=walk.checked,
            first_bad_seq=first.seq,
            message=(
                f"Audit log truncated: entry {first.seq}, checkpointed at "
                f"{utc_text(first.at)}, is missing; {end}."
            ),
        )
    count = walk.checked
    noun = "entry" if count == 1 else "entries"
    notes = []
    if since_checkpoint and anchors:
        notes.append(f"from the checkpoint at entry {anchors[0].seq}")
    elif since_checkpoint:
        notes.append("no checkpoint yet, checked from the first entry")
    if anchors:
        notes.append(f"{len(anchors)} checkpoint{'s' if len(anchors) != 1 else ''} matched")
    if walk.legacy:
        notes.append(f"{walk.legacy} unkeyed older {'entry' if walk.legacy == 1 else 'entries'}")
    return VerifyResult(
        ok=True,
        status="intact",
        entries=count,
        first_bad_seq=None,
        message=f"Audit log intact: {count} {noun}" + (f" ({'; '.join(notes)})" if notes else ""),
        head_hash=walk.prev_hash if count else None,
        head_seq=last_seq if count else None,
    )


def _check(row: Row[Any], walk: _Walk, keys: Keyring, anchors: list[Checkpoint]) -> str | None:
    """Why `row` does not continue the chain, or None when it does."""
    seq = row.seq
    if seq != walk.expected_seq:
        return f"Entry {walk.expected_seq} is missing (the next entry is {seq})."
    if walk.prev_hash is not None and row.prev_hash != walk.prev_hash:
        return f"Entry {seq} does not link to the entry before it."
    values = row[: len(HASHED_FIELDS)]
    if row.alg == KEYED_ALG:
        key = keys.keys.get(row.key_id or "")
        if key is None:
            return (
                f"Entry {seq} is keyed with {row.key_id!r}, which is not a configured audit "
                "key (AUDIT_KEY_ID, AUDIT_RETIRED_KEYS)."
            )
        expected: str | None = _safely(lambda: keyed_hash(key, row.key_id, values))
        walk.keyed_seen = True
    elif row.alg == LEGACY_ALG:
        if walk.keyed_seen:
            # Only entries from before keying may use the keyless hash; a later one is a
            # rewrite by someone who does not hold the key.
            return f"Entry {seq} has the keyless hash of older entries after keyed ones began."
        expected = _safely(lambda: legacy_hash(values))
        walk.legacy += 1
    else:
        return f"Entry {seq} names an unknown hash algorithm {row.alg!r}."
    if expected is None or not hmac.compare_digest(expected, row.hash):
        return f"Entry {seq} was altered: its content does not match its hash."
    for anchor in anchors:
        if anchor.hash != row.hash:
            return (
                f"Entry {seq} differs from its checkpoint of {utc_text(anchor.at)}: "
                "the log was rewritten."
            )
    return None


def _safely(digest: Callable[[], str]) -> str | None:
    try:
        return digest()
    except (AttributeError, TypeError, ValueError):  # content append cannot write, e.g. NaN
        return None


def _broken(checked: int, seq: int, message: str) -> VerifyResult:
    return VerifyResult(
        ok=False, status="tampered", entries=checked, first_bad_seq=seq, message=message
    )


def _load_checkpoints(store: LocalStorage, keys: Keyring) -> list[Checkpoint] | VerifyResult:
    """Every checkpoint in the journal, or the tampering found in it."""
    checkpoints = []
    for number, line in enumerate(store.read_lines(CHECKPOINT_JOURNAL), 1):
        if not line.strip():
            continue
        try:
            checkpoint = Checkpoint.from_line(line)
        except ValueError:
            return VerifyResult(
                ok=False,
                status="tampered",
                entries=0,
                first_bad_seq=None,
                message=f"Line {number} of {CHECKPOINT_JOURNAL} is not a checkpoint.",
            )
        if not checkpoint.signed_by(keys):
            return VerifyResult(
                ok=False,
                status="tampered",
                entries=0,
                first_bad_seq=checkpoint.seq,
                message=(
                    f"The checkpoint of entry {checkpoint.seq} (line {number} of "
                    f"{CHECKPOINT_JOURNAL}) has no valid signature: the file was edited, or "
                    f"its key {checkpoint.key_id!r} is not configured."
                ),
            )
        checkpoints.append(checkpoint)
    return checkpoints


async def checkpoint(
    uow: UnitOfWork,
    store: LocalStorage,
    *,
    keys: Keyring | None = None,
    every_entries: int = 100,
    every_minutes: float = 10.0,
    force: bool = False,
) -> Checkpoint | None:
    """Publish a signed checkpoint of the chain head when one is due; return it, or None.

    Due when there is no checkpoint yet, `every_entries` entries came after the newest one,
    or newer entries exist and `every_minutes` passed (or `force` and the log is not empty).
    The chain from the newest checkpoint to the head is verified first, so a checkpoint
    never vouches for a broken chain. The checkpoint leaves the database twice: appended to
    the store's journal and written to the log (`audit.checkpoint`). Call it outside any
    transaction that appends, so it only sees committed entries.
    """
    keys = keys or default_keyring()
    head = await repo.head(uow.session)
    if head is None:
        return None
    loaded = _load_checkpoints(store, keys)
    if isinstance(loaded, VerifyResult):
        raise Conflict(N_("No audit checkpoint written: %(reason)s"), reason=loaded.message)
    newest = max(loaded, key=lambda c: c.seq, default=None)
    now = utcnow()
    due = (
        force
        or newest is None
        or head[0] - newest.seq >= every_entries
        or (head[0] > newest.seq and now - newest.at >= timedelta(minutes=every_minutes))
    )
    if not due:
        return None
    result = await verify(uow, keys=keys, store=store, since_checkpoint=True)
    if not result.ok or result.head_seq is None or result.head_hash is None:
        raise Conflict(N_("No audit checkpoint written: %(reason)s"), reason=result.message)
    # The head the walk reached: entries committed meanwhile were verified as well.
    made = Checkpoint.sign(keys, result.head_seq, result.head_hash, now)
    store.append_line(CHECKPOINT_JOURNAL, made.to_line())
    log.info("audit.checkpoint", **made.as_record())
    return made


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
            raise Invalid(N_("%(field)s must be a time with its zone (UTC)."), field=name)
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
