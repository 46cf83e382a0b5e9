"""Item statistics from the store: facility, point-biserial, distractors, flags, IRT."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from certplatform.analytics import store
from certplatform.analytics.items import item_report
from certplatform.content import service as content
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import AnswerRecorded
from tests.support.accounts import bearer
from tests.support.exams import load

CERT = "KR-INFO-ENGINEER"


async def test_item_report_finds_what_was_planted(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    async with db.transaction() as uow:
        pool = (await content.practice_pool(uow, CERT))[:12]
        versions = await content.current_versions(uow, [e.question_id for e in pool])
    keys = {q: next(c.id for c in v.content.choices if c.weight > 0) for q, v in versions.items()}
    wrong = {q: [c.id for c in v.content.choices if c.weight <= 0] for q, v in versions.items()}
    normal, reversed_q = pool[0].question_id, pool[1].question_id
    rng = random.Random(4)
    answers, now = [], utcnow()
    for person in range(80):
        strong = person >= 40
        for n, entry in enumerate(pool):
            q = entry.question_id
            if q == reversed_q:  # the weak get it right, the strong pick one distractor
                right = not strong
                pick = keys[q] if right else wrong[q][0]
            else:
                right = rng.random() < (0.85 if strong else 0.35)
                pick = keys[q] if right else wrong[q][0]  # the other distractors: never
            answers.append(
                AnswerRecorded(
                    answer_id=f"{person:04d}{n:02d}".ljust(32, "0"),
                    user_id=f"p{person}",
                    certification=CERT,
                    question_id=q,
                    version_id=versions[q].id,
                    subject=entry.subject_code,
                    context="practice",
                    correct=right,
                    fraction=float(right),
                    elapsed_ms=10_000 + n,
                    answered_at=now - timedelta(minutes=n),
                    choice_ids=(pick,),
                )
            )
    async with db.transaction() as uow:
        assert await store.record_answers(uow.session, answers) == len(answers)
    async with db.transaction() as uow:
        rows = {r.question_id: r for r in await item_report(uow, CERT)}
    good, bad = rows[normal], rows[reversed_q]
    assert good.attempts == bad.attempts == 80
    assert bad.facility == 0.5
    assert good.point_biserial is not None
    assert good.point_biserial > 0.3
    assert bad.point_biserial is not None
    assert bad.point_biserial < -0.5
    assert "negative_discrimination" in bad.flags
    assert "strong_distractor" in bad.flags
    assert "negative_discrimination" not in good.flags
    assert "unpicked" in good.flags  # two distractors nobody chose
    assert sum(c.rate for c in good.choices) == 1.0
    assert good.a is not None
    assert good.a > 0.5
    assert bad.a is not None
    assert bad.a < good.a
    unanswered = [r for r in rows.values() if r.attempts == 0]
    assert unanswered
    assert all(r.facility is None and r.a is None for r in unanswered)

    author = await bearer(client, db, "author")
    page = await client.get("/admin/items", params={"certification": CERT}, headers=author)
    assert page.status_code == 200
    assert "strong learners pick a distractor" in page.text or "상위" in page.text
    learner = await bearer(client, db)
    refused = await client.get("/admin/items", headers=learner)
    assert refused.status_code in (403, 404)
