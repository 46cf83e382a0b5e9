"""The learner's dashboard over REST and as a page, from events relayed into the store."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from certplatform.analytics.store import study_day
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import ReviewCard
from tests.analytics.test_pipeline import CERT, learner, practise
from tests.support.events import relay_events
from tests.support.exams import blueprint_id, keys_of, load, save


async def test_dashboard_counts_what_i_did(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    anna = await learner(client, db, "anna")
    nobody = await client.get("/api/v1/analytics/dashboard", headers=anna)
    assert nobody.status_code == 404  # nothing studied, no certification to show
    exam_day = study_day(utcnow()) + timedelta(days=40)
    settings = await client.put(
        "/api/v1/learning/settings",
        json={"desired_retention": 0.9, "exam_dates": {CERT: exam_day.isoformat()}},
        headers=anna,
    )
    assert settings.status_code == 200, settings.text
    await practise(client, db, anna, right=4, wrong=2)
    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, CERT)}, headers=anna
    )
    view = started.json()
    keys = await keys_of(db, view)
    for item in view["items"][:30]:
        await save(client, anna, view["id"], item["position"], keys[item["position"]][0])
    submitted = (await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=anna)).json()
    # The review load ahead: two cards fall due in three days, the rest in 40.
    async with db.transaction() as uow:
        cards = (await uow.session.scalars(select(ReviewCard.question_id))).all()
        assert len(cards) == 6  # one per practised question
        await uow.session.execute(update(ReviewCard).values(due_at=utcnow() + timedelta(days=40)))
        await uow.session.execute(
            update(ReviewCard)
            .where(ReviewCard.question_id.in_(cards[:2]))
            .values(due_at=utcnow() + timedelta(days=3))
        )
    await relay_events(app)

    reply = await client.get("/api/v1/analytics/dashboard", headers=anna)
    assert reply.status_code == 200, reply.text
    board = reply.json()
    assert board["certification"] == CERT
    assert board["days_to_exam"] == 40
    assert board["answered_today"] == 6 + 30
    assert board["streak_days"] == 1
    assert board["daily"][-1]["count"] == 36
    assert sum(d["count"] for d in board["daily"]) == 36
    assert [s["percent"] for s in board["scores"]] == [submitted["percent"]]
    assert sum(s["answered"] for s in board["subjects"]) == 36
    assert board["seen"] <= 36
    assert board["bank_size"] >= board["seen"]
    assert [d["count"] for d in board["forecast"]] == [0, 0, 0, 2] + [0] * 26
    assert board["due_today"] == 0
    chance = board["pass_chance"]
    assert chance is not None
    assert 0 <= chance["low"] <= chance["p_pass"] <= chance["high"] <= 1
    assert chance["too_little_data"] is True  # under 20 answers in some subject
    assert chance["most_at_risk"] in {s["code"] for s in chance["subjects"]}

    page = await client.get("/progress", headers=anna)
    assert page.status_code == 200
    assert "D-40" in page.text
    assert "<svg" in page.text
    unknown = await client.get(
        "/api/v1/analytics/dashboard", params={"certification": "NOPE"}, headers=anna
    )
    assert unknown.status_code == 404
    anonymous = await client.get("/api/v1/analytics/dashboard")
    assert anonymous.status_code == 401
