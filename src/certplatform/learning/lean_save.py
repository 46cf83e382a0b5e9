"""The answer save on PostgreSQL: one statement on a prepared connection (ADR 0020).

Exam day is thousands of candidates saving answers at once, so this path does the least a
durable, serialised save must do. What never changes after an attempt starts — its owner and
each item's question version, section and choice order — is read once per process and kept
(`FrozenAttempt`); question versions are immutable and cached by the service. Everything
else (status, the exam's and the section's clocks) is decided by the database inside one
statement:

* the attempt row is locked while it is still `open` (ADR 0009: a submit's UPDATE of that
  row waits for every save in flight, and a save waiting behind a submit finds it closed and
  writes nothing); saves of one attempt take turns, and each reads the item as the save
  before it left it;
* the item takes the answer only when its `op_seq` is newer (last operation wins) and
  remembers which operation set it, which is how the reply knows it was applied; its time
  grows either way;
* the operation is recorded under its op id with that outcome; a retry finds it and changes
  nothing, and a retry racing its original fails on the key, undoing the whole statement;
* the attempt's unanswered count moves when the item goes from blank to answered or back,
  and the reply carries it (ADR 0029: counting the items on every save cost a quarter of
  the throughput). A timed section's deadline is fixed at the start, so it is checked here
  before the statement.

SQLite (the embedded shape, one process) keeps the service's path; both give the same
replies, and the same tests run on both.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.errors import N_, Conflict, NotFound
from certplatform.learning import service
from certplatform.learning.contracts import SaveAck, SaveAnswer

_SAVE = """
WITH p AS (  -- the parameters' types, declared once (the CTE itself is not read)
    SELECT $1::text AS attempt_id, $2::text AS op_id, $3::int AS position, $4::bigint AS seq,
        $5::jsonb AS response, $6::boolean AS flagged, $7::boolean AS changes,
        $8::timestamptz AS at, $9::boolean AS answered, $10::int AS elapsed,
        $11::interval AS grace
), open_attempt AS (
    -- Locked first and read as of the lock (a save that waited sees the one before it).
    SELECT id, started_at, unanswered, deadline_at FROM attempts
    WHERE id = $1 AND status = 'open' AND deadline_at + $11 >= $8
    FOR NO KEY UPDATE
), before AS (
    -- The item as it is now (locked, so not an older snapshot): was it blank?
    SELECT response IS NULL AS blank FROM attempt_items
    WHERE attempt_id = $1 AND position = $3 AND EXISTS (SELECT 1 FROM open_attempt)
    FOR UPDATE
), item AS (
    UPDATE attempt_items SET
        response = CASE WHEN $9 AND op_seq < $4 THEN $5 ELSE response END,
        flagged = CASE WHEN $6 IS NOT NULL AND op_seq < $4 THEN $6 ELSE flagged END,
        op_id = CASE WHEN $7 AND op_seq < $4 THEN $2 ELSE op_id END,
        op_seq = CASE WHEN $7 AND op_seq < $4 THEN $4 ELSE op_seq END,
        -- time on a question cannot exceed the time since the attempt started
        time_ms = time_ms + LEAST($10, GREATEST(0, (extract(epoch FROM
            $8 - (SELECT started_at FROM open_attempt)) * 1000)::bigint))::int
    WHERE attempt_id = $1 AND position = $3 AND EXISTS (SELECT 1 FROM before)
      AND NOT EXISTS (SELECT 1 FROM attempt_operations WHERE attempt_id = $1 AND op_id = $2)
    RETURNING COALESCE(op_id = $2, false) AS applied, response IS NULL AS blank
), counted AS (
    -- The attempt's count moves only when the item went from blank to answered or back.
    UPDATE attempts SET unanswered = unanswered
        + (SELECT blank::int FROM item) - (SELECT blank::int FROM before)
    WHERE id = $1 AND (SELECT blank FROM item) <> (SELECT blank FROM before)
    RETURNING unanswered
), recorded AS (
    -- A plain INSERT: a retry racing its original fails here on the key, and the whole
    -- statement (its time on the item included) is undone.
    INSERT INTO attempt_operations
        (attempt_id, op_id, position, op_seq, response, flagged, applied, at)
    SELECT $1, $2, $3, $4, $5, $6, applied, $8 FROM item
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM open_attempt) AS open,
    (SELECT applied FROM item) AS applied,
    COALESCE((SELECT unanswered FROM counted), (SELECT unanswered FROM open_attempt))
        AS unanswered,
    (SELECT deadline_at FROM open_attempt) AS deadline_at,
    (SELECT count(*) FROM recorded) AS recorded
"""
# Why a save changed nothing: an earlier operation under the same id, or the attempt (or the
# item's section) closed.
_REFUSED = """
SELECT a.status, a.deadline_at, a.sections, o.position, o.applied, o.at,
    (SELECT count(*) FROM attempt_items i WHERE i.attempt_id = $1 AND i.response IS NULL)
FROM attempts a
LEFT JOIN attempt_operations o ON o.attempt_id = a.id AND o.op_id = $2
WHERE a.id = $1
"""
_FROZEN = """
SELECT a.user_id, a.sections, i.position, i.version_id, i.section_code, i.display_order
FROM attempts a JOIN attempt_items i ON i.attempt_id = a.id
WHERE a.id = $1
"""


@dataclass(frozen=True, slots=True)
class FrozenItem:
    version_id: str
    section_code: str
    display_order: list[str]
    # When the item's section closes (timed sections get their deadline at the start).
    section_deadline: datetime | None


@dataclass(frozen=True, slots=True)
class FrozenAttempt:
    """Who owns an attempt and what each item shows: fixed at its start, so read once.
    (The exam's own deadline and status are not kept here: the statement checks them
    where they are stored.)"""

    user_id: str
    items: dict[int, FrozenItem]


async def _json_codecs(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def create_pool(dsn: str, size: int) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min(2, size), max_size=size, init=_json_codecs
    )
    return pool


class LeanSaves:
    """Answer saves of one process: the pool, the frozen attempts and the statement."""

    def __init__(self, pool: asyncpg.Pool, db: Database, grace_seconds: float) -> None:
        self.pool = pool
        self.db = db
        self.grace = timedelta(seconds=grace_seconds)
        self._frozen: OrderedDict[str, FrozenAttempt] = OrderedDict()
        self._frozen_size = 20_000

    async def close(self) -> None:
        await self.pool.close()

    async def _attempt(self, attempt_id: str) -> FrozenAttempt | None:
        frozen = self._frozen.get(attempt_id)
        if frozen is not None:
            return frozen
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_FROZEN, attempt_id)
        if not rows:
            return None
        deadlines = {
            s["code"]: datetime.fromisoformat(s["deadline_at"]) if s.get("deadline_at") else None
            for s in rows[0]["sections"]
        }
        frozen = FrozenAttempt(
            user_id=rows[0]["user_id"],
            items={
                r["position"]: FrozenItem(
                    r["version_id"],
                    r["section_code"],
                    r["display_order"],
                    deadlines.get(r["section_code"]),
                )
                for r in rows
            },
        )
        self._frozen[attempt_id] = frozen
        if len(self._frozen) > self._frozen_size:
            self._frozen.popitem(last=False)
        return frozen

    async def save(
        self, principal: Principal, attempt_id: str, position: int, op: SaveAnswer
    ) -> SaveAck:
        """The same contract as `service.save_answer`, in one statement."""
        attempt = await self._attempt(attempt_id)
        if attempt is None or attempt.user_id != principal.user_id:
            raise NotFound("No such attempt.")
        item = attempt.items.get(position)
        if item is None:
            raise NotFound(N_("The attempt has no question %(position)s."), position=position)
        stored: dict[str, Any] | None = None
        if op.answer is not None:
            version = await service.question_version(self.db, item.version_id)
            response = service.internal_response(version.content, item.display_order, op.answer)
            stored = None if response.is_blank() else response.model_dump(mode="json")
        now = utcnow()
        if item.section_deadline is not None and now > item.section_deadline + self.grace:
            return await self._refused(attempt_id, position, item.section_code, op, now)
        async with self.pool.acquire() as conn:
            try:
                row = await conn.fetchrow(
                    _SAVE,
                    attempt_id,
                    op.op_id,
                    position,
                    op.op_seq,
                    stored,
                    op.flagged,
                    op.answer is not None or op.flagged is not None,
                    now,
                    op.answer is not None,
                    op.elapsed_ms,
                    self.grace,
                )
            except asyncpg.UniqueViolationError:
                row = None  # the same op id was recorded meanwhile: nothing was written
        if row is None or not row["open"] or row["applied"] is None:
            return await self._refused(attempt_id, position, item.section_code, op, now)
        return SaveAck(
            position=position,
            op_id=op.op_id,
            applied=row["applied"],
            saved_at=now,
            remaining_seconds=_remaining(row["deadline_at"], now),
            unanswered_count=row["unanswered"],
        )

    async def _refused(
        self, attempt_id: str, position: int, section_code: str, op: SaveAnswer, now: datetime
    ) -> SaveAck:
        """The reply when the statement wrote nothing: the earlier operation's own reply
        (a retry), else why the attempt takes no more answers."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_REFUSED, attempt_id, op.op_id)
        assert row is not None  # the attempt exists (its frozen part was read)
        status, deadline, sections, recorded_position, applied, at, blank = row
        if recorded_position is not None:
            if recorded_position != position:
                raise Conflict(
                    N_("Operation %(op)s was used for question %(position)s."),
                    op=op.op_id,
                    position=recorded_position,
                )
            return SaveAck(
                position=position,
                op_id=op.op_id,
                applied=applied,
                saved_at=at,
                remaining_seconds=_remaining(deadline, now),
                unanswered_count=blank,
            )
        if status != "open":
            raise Conflict("This attempt has been submitted; answers can no longer change.")
        if now > deadline + self.grace:
            raise Conflict(
                "Time is up: the exam ended at the deadline, so this answer was not saved."
            )
        name = next((s["name"] for s in sections if s["code"] == section_code), section_code)
        raise Conflict(
            N_("Time is up for section %(section)s; its answers are final."), section=name
        )


def _remaining(deadline: datetime, now: datetime) -> float:
    return max(0.0, (deadline - now).total_seconds())
