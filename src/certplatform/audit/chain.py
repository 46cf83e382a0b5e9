"""How entries and checkpoints are hashed and signed (ADR 0003, ADR 0012).

Entries written before ADR 0012 carry `alg = "sha256-v1"`: a plain SHA-256 anyone can
recompute. Newer entries carry `alg = "hmac-sha256-v2"` and the id of the key that made
their HMAC; the key lives in the settings, never in the database. Checkpoints of the chain
head are signed with the same keys and kept outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from certplatform.kernel.settings import Settings

LEGACY_ALG = "sha256-v1"
KEYED_ALG = "hmac-sha256-v2"
CHECKPOINT_JOURNAL = "audit-checkpoints/checkpoints.jsonl"


@dataclass(frozen=True)
class Keyring:
    """The key that signs new entries (`current_id`) and every key that may verify one."""

    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        keys = {kid: secret.encode() for kid, secret in settings.audit_retired_keys.items()}
        keys[settings.audit_key_id] = settings.audit_key.encode()
        return cls(current_id=settings.audit_key_id, keys=keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _canonical(values: Sequence[Any]) -> bytes:
    # A fixed-order array, object keys sorted, no spaces, UTF-8 (ADR 0003).
    return json.dumps(
        list(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def _entry_values(values: Sequence[Any]) -> list[Any]:
    """The HASHED_FIELDS as hashed: `at` as UTC text, whole-valued floats as integers."""
    fields = list(values)
    fields[1] = utc_text(fields[1])
    fields[8] = _canonical_numbers(fields[8])
    return fields


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


def legacy_hash(values: Sequence[Any]) -> str:
    """sha256-v1: SHA-256 (hex) of the HASHED_FIELDS. No secret: anyone can recompute it."""
    return hashlib.sha256(_canonical(_entry_values(values))).hexdigest()


def keyed_hash(key: bytes, key_id: str, values: Sequence[Any]) -> str:
    """hmac-sha256-v2: HMAC-SHA256 (hex) of the algorithm, the key id and the HASHED_FIELDS.

    The algorithm and key id are covered, so neither can be swapped for another.
    """
    message = _canonical([KEYED_ALG, key_id, *_entry_values(values)])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that entry `seq` had hash `hash` at time `at`."""

    seq: int
    hash: str
    at: datetime
    key_id: str
    sig: str

    @staticmethod
    def _message(seq: int, entry_hash: str, at: datetime, key_id: str) -> bytes:
        # The label keeps a checkpoint signature from ever equalling an entry's HMAC.
        return _canonical(["audit-checkpoint", seq, entry_hash, utc_text(at), key_id])

    @classmethod
    def sign(cls, keys: Keyring, seq: int, entry_hash: str, at: datetime) -> Checkpoint:
        message = cls._message(seq, entry_hash, at, keys.current_id)
        sig = hmac.new(keys.current, message, hashlib.sha256).hexdigest()
        return cls(seq=seq, hash=entry_hash, at=at, key_id=keys.current_id, sig=sig)

    def signed_by(self, keys: Keyring) -> bool:
        key = keys.keys.get(self.key_id)
        if key is None:
            return False
        message = self._message(self.seq, self.hash, self.at, self.key_id)
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.sig)

    def as_record(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": utc_text(self.at),
            "key_id": self.key_id,
            "sig": self.sig,
        }

    def to_line(self) -> str:
        return json.dumps(self.as_record(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        """Parse one journal line; ValueError when it is not a checkpoint."""
        try:
            record = json.loads(line)
            checkpoint = cls(
                seq=record["seq"],
                hash=record["hash"],
                at=datetime.fromisoformat(record["at"]),
                key_id=record["key_id"],
                sig=record["sig"],
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from exc
        if not isinstance(checkpoint.seq, int) or not all(
            isinstance(v, str) for v in (checkpoint.hash, checkpoint.key_id, checkpoint.sig)
        ):
            raise ValueError("not a checkpoint: wrong field types")
        return checkpoint
