"""Answers, runs and attempts reach the analytics store through the outbox; replaying the
events changes nothing; a backfill from the learning tables builds the same store."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from certplatform.analytics import handlers
from certplatform.analytics.backfill import backfill
from certplatform.analytics.models import (
    AnswerFact,
    AttemptFact,
    ItemChoice,
    ItemStats,
    LearnerDay,
    PracticeRunFact,
)
from certplatform.kernel.db import Database
from certplatform.kernel.events import Event, EventBus, OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import AnswerRecord
from tests.support.accounts import PASSWORD, make_user
from tests.support.events import relay_events
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key

CERT = "KR-INFO-ENGINEER"
TABLES = (AnswerFact, LearnerDay, ItemStats, ItemChoice, AttemptFact, PracticeRunFact)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with db.transaction() as uow:
        for table in TABLES:
            t = table.__table__
            rows = (await uow.session.execute(select(t))).all()
            out[t.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


async def learner(client: httpx.AsyncClient, db: Database, name: str) -> dict[str, str]:
    email = await make_user(db, "learner", f"{name}@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


async def practise(
    client: httpx.AsyncClient, db: Database, learner: dict[str, str], right: int, wrong: int
) -> None:
    run = await client.post(
        "/api/v1/practice/sessions",
        json={"certification": CERT, "limit": right + wrong},
        headers=learner,
    )
    assert run.status_code == 201, run.text
    sid = run.json()["id"]
    for n in range(right + wrong):
        q = await client.get(f"/api/v1/practice/sessions/{sid}/questions/{n}", headers=learner)
        view = {"items": [{"position": 0, "question": q.json()["question"]}]}
        keys = (await keys_of(db, view))[0]
        label = keys[0] if n < right else wrong_key(view["items"][0], keys)
        reply = await client.post(
            f"/api/v1/practice/sessions/{sid}/questions/{n}/answer",
            json={"answer": {"choices": [label]}, "elapsed_ms": 4000 + n},
            headers=learner,
        )
        assert reply.status_code == 200, reply.text


async def test_events_fill_the_store_replays_change_nothing_and_backfill_agrees(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    anna, ben = await learner(client, db, "anna"), await learner(client, db, "ben")
    await practise(client, db, anna, right=3, wrong=2)
    await practise(client, db, ben, right=1, wrong=1)
    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, CERT)}, headers=anna
    )
    assert started.status_code == 201, started.text
    view = started.json()
    keys = await keys_of(db, view)
    for item in view["items"][:12]:
        p = item["position"]
        choice = keys[p][0] if p % 3 else wrong_key(item, keys[p])
        assert (await save(client, anna, view["id"], p, choice)).status_code == 200
    submitted = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=anna)
    assert submitted.status_code == 200, submitted.text
    await relay_events(app)

    store = await snapshot(db)
    async with db.transaction() as uow:
        s = uow.session
        records = (await s.execute(select(func.count()).select_from(AnswerRecord))).scalar_one()
        right = (
            await s.execute(select(func.count()).where(AnswerRecord.correct.is_(True)))
        ).scalar_one()
        days = (
            await s.execute(select(func.sum(LearnerDay.answered), func.sum(LearnerDay.correct)))
        ).one()
        items = (await s.execute(select(func.sum(ItemStats.attempts)))).scalar_one()
        picks = (await s.execute(select(func.sum(ItemChoice.picks)))).scalar_one()
        attempt = await s.get(AttemptFact, view["id"])
        runs = (await s.execute(select(func.count()).select_from(PracticeRunFact))).scalar_one()
    assert records == 5 + 2 + 12
    assert tuple(days) == (records, right)
    assert items == records
    assert picks == records  # one choice picked per answer
    assert attempt is not None
    assert attempt.percent == submitted.json()["percent"]
    assert attempt.submitted_at is not None
    assert attempt.form_kind == "blueprint"
    assert runs == 2

    # Every event delivered again (a relay retry, a redelivery): nothing changes.
    bus = EventBus()
    handlers.subscribe(bus)
    async with db.transaction() as uow:
        rows = (await uow.session.scalars(select(OutboxEvent))).all()
        assert {r.topic for r in rows} >= set(handlers.HANDLERS) - {
            "certplatform.learning.attempt.regraded.v1"
        }
        for row in rows:
            await bus.dispatch(uow.session, Event(row.id, row.topic, row.payload, row.created_at))
    assert await snapshot(db) == store

    # Rebuilt from the learning tables: the same store, row for row.
    async with db.transaction() as uow:
        report = await backfill(uow, page=4)  # several pages
    assert (report.answers, report.attempts, report.practice_runs) == (records, 1, 2)
    assert await snapshot(db) == store
