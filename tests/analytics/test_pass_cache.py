"""P(pass) is remembered per learner and blueprint until one of its inputs changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from certplatform.analytics import store
from certplatform.analytics.calibration import recalibrate
from certplatform.analytics.contracts import PassChance
from certplatform.analytics.dashboard import PASS_CACHE, pass_chance
from certplatform.analytics.pass_cache import StampedCache
from certplatform.content import service as content
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import AnswerRecorded
from tests.analytics.test_calibration import CERT, plant


def test_a_value_holds_while_its_stamp_does_and_not_past_its_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("certplatform.analytics.pass_cache.time.monotonic", lambda: clock[0])
    cache: StampedCache[str] = StampedCache(size=2, ttl=60)
    cache.put("a", 1, "x")
    assert cache.get("a", 1) == "x"
    assert cache.get("a", 2) is None  # the inputs changed
    clock[0] += 61
    assert cache.get("a", 1) is None  # too old
    cache.put("a", 1, "x")
    cache.put("b", 1, "y")
    cache.get("a", 1)
    cache.put("c", 1, "z")  # "b" was used least recently
    assert (cache.get("a", 1), cache.get("b", 1), cache.get("c", 1)) == ("x", None, "z")


async def test_pass_chance_is_recomputed_only_when_something_changed(
    db: Database, storage: LocalStorage
) -> None:
    ids = await plant(db, storage)
    PASS_CACHE.clear()

    async def chance() -> PassChance | None:
        async with db.transaction() as uow:
            pool = await content.practice_pool(uow, CERT)
            blueprint = (await content.blueprints(uow, CERT))[0]
            return await pass_chance(uow, "p3", blueprint, pool, {})

    first = await chance()
    assert first is not None
    misses = PASS_CACHE.misses
    assert await chance() is first  # nothing changed: the same result, not recomputed
    assert PASS_CACHE.misses == misses

    async with db.transaction() as uow:  # p3 answers one more question
        version = (await content.current_versions(uow, ids[:1]))[ids[0]]
        await store.record_answers(
            uow.session,
            [
                AnswerRecorded(
                    answer_id="x".ljust(32, "0"), user_id="p3", certification=CERT,
                    question_id=ids[0], version_id=version.id, subject=None, context="practice",
                    correct=True, fraction=1.0, elapsed_ms=5_000,
                    answered_at=utcnow() + timedelta(seconds=1), choice_ids=(),
                )
            ],
        )  # fmt: skip
    second = await chance()
    assert second is not first
    assert PASS_CACHE.misses == misses + 1

    await recalibrate(db, "calibrate:cache")  # a calibration is stored
    third = await chance()
    assert third is not second
    assert PASS_CACHE.misses == misses + 2
