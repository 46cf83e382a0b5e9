"""A regrade that changes my score reaches the store and tells me, on home and the result;
an older score delivered late never overwrites the regraded one."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from certplatform.analytics import handlers
from certplatform.analytics.models import AttemptFact
from certplatform.kernel.db import Database
from certplatform.kernel.events import Event, EventBus, OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import ATTEMPT_GRADED
from tests.analytics.test_pipeline import learner
from tests.support.accounts import bearer
from tests.support.events import relay_events
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key

CERT = "US-FCC-TECHNICIAN"


async def test_a_regrade_that_changes_my_score_is_announced(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    me = await learner(client, db, "sam")
    admin, author = await bearer(client, db, "admin"), await bearer(client, db, "author")
    view = (
        await client.post(
            "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, CERT)}, headers=me
        )
    ).json()
    keys = await keys_of(db, view)
    first = view["items"][0]
    chosen = wrong_key(first, keys[1])
    await save(client, me, view["id"], 1, chosen)
    for item in view["items"][1:26]:
        await save(client, me, view["id"], item["position"], keys[item["position"]][0])
    before = (await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=me)).json()
    assert (before["correct_count"], before["passed"]) == (25, False)
    await relay_events(app)
    home = await client.get("/", headers=me)
    assert f"/exam/{view['id']}/result" in home.text
    assert "재채점" not in home.text

    # The key was wrong: the learner's choice was right. Fix it and apply the regrade.
    qid = first["question"]["question_id"]
    chosen_text = next(c["text"] for c in first["question"]["choices"] if c["label"] == chosen)
    question = (await client.get(f"/api/v1/questions/{qid}", headers=author)).json()
    version = question["version"]
    fixed = dict(version["content"])
    fixed["choices"] = [
        {**c, "weight": 1.0 if c["text"] == chosen_text else 0.0} for c in fixed["choices"]
    ]
    edit = await client.put(
        f"/api/v1/questions/{qid}",
        json={
            "content": fixed,
            "external_id": question["external_id"],
            "subject": question["subject_code"],
            "topic": question["topic_code"],
            "law_refs": version["law_refs"],
            "source": version["source"],
            "note": "정답 정정",
        },
        headers=author,
    )
    assert edit.status_code == 200, edit.text
    # The fix is a draft until published (ADR 0026); regrades grade by what is published.
    published = await client.post(
        "/api/v1/questions/status",
        json={"question_ids": [qid], "status": "published"},
        headers=author,
    )
    assert published.json()[0]["published_version"] == 2, published.text
    applied = await client.post(
        "/api/v1/regrade", json={"question_id": qid, "apply": True}, headers=admin
    )
    assert applied.json()["changes"][0]["new_passed"] is True
    await relay_events(app)

    async with db.transaction() as uow:
        fact = await uow.session.get(AttemptFact, view["id"])
        assert fact is not None
        assert (fact.previous_percent, fact.previous_passed) == (before["percent"], False)
        assert fact.passed is True
        assert fact.percent is not None
        assert fact.percent > before["percent"]
        regraded = fact.percent
    home = await client.get("/", headers=me)
    assert "재채점으로" in home.text
    assert "이제 합격입니다." in home.text
    result = await client.get(f"/exam/{view['id']}/result", headers=me)
    assert "재채점" in result.text

    # The submit's graded event delivered again after the regrade: the regraded score stays.
    bus = EventBus()
    handlers.subscribe(bus)
    async with db.transaction() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == ATTEMPT_GRADED)
            )
        ).all()
        assert len(rows) == 1
        for row in rows:
            await bus.dispatch(uow.session, Event(row.id, row.topic, row.payload, row.created_at))
    async with db.transaction() as uow:
        fact = await uow.session.get(AttemptFact, view["id"])
        assert fact is not None
        assert (fact.percent, fact.passed) == (regraded, True)
