"""The dashboard's chance of passing, remembered per learner and blueprint (ADR 32).

The simulation is the dashboard's dearest part and its inputs rarely change between two
loads: it is recomputed only when the learner answered something (their answer count in
the analytics store moved: facts are written once), a calibration was stored, or the
blueprint, its pool or the subject names changed; and at least every `ttl` seconds,
because other learners' answers move the provisional difficulties of uncalibrated items a
little. Per process, bounded (LRU).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import func, select

from certplatform.analytics import queries
from certplatform.analytics.models import ItemParameter
from certplatform.analytics.port import store_for
from certplatform.content.contracts import BlueprintOut, PoolEntry
from certplatform.kernel.db import UnitOfWork

V = TypeVar("V")


class StampedCache(Generic[V]):
    """Values under a key, each valid while the stamp it was computed with still holds and
    for at most `ttl` seconds; the least recently used go first beyond `size` entries."""

    def __init__(self, size: int = 20_000, ttl: float = 600.0) -> None:
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, V]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable, stamp: Hashable) -> V | None:
        found = self._entries.get(key)
        if found is None or found[0] != stamp or time.monotonic() - found[1] > self.ttl:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[2]

    def put(self, key: Hashable, stamp: Hashable, value: V) -> None:
        self._entries[key] = (stamp, time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


async def pass_stamp(
    uow: UnitOfWork,
    user_id: str,
    blueprint: BlueprintOut,
    pool: Sequence[PoolEntry],
    names: dict[str, str],
) -> Hashable:
    """What the chance of passing depends on, as one comparable value (two small queries:
    one in the analytics store, one in the application database)."""
    certification = blueprint.certification_code
    store = store_for(uow.session)
    mine = await queries.my_answer_count(store, user_id, certification)
    calibrated = (
        await uow.session.execute(
            select(func.count(), func.max(ItemParameter.calibrated_at)).where(
                ItemParameter.certification == certification
            )
        )
    ).one()
    shape = hashlib.blake2b(digest_size=16)
    shape.update(blueprint.model_dump_json().encode())
    for e in pool:
        shape.update(f"{e.question_id}|{e.subject_code}|{e.topic_code}\n".encode())
    shape.update(repr(sorted(names.items())).encode())
    return (store.engine, mine, tuple(calibrated), shape.hexdigest())
