"""The calibration job (ADR 32): stored parameters equal `irt.calibrate`'s, written all at
once, once per key, consistent when two runs race; the item report and P(pass) read them;
the button queues a run only after its commit."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, update

from certplatform.analytics import store
from certplatform.analytics.calibration import (
    CALIBRATE_JOB,
    first_answers,
    fit_items,
    recalibrate,
)
from certplatform.analytics.dashboard import pass_chance
from certplatform.analytics.irt import Responses, calibrate
from certplatform.analytics.items import item_report
from certplatform.analytics.models import AnswerFact, Calibration, ItemParameter
from certplatform.app import periodic_jobs
from certplatform.content import service as content
from certplatform.kernel import jobs
from certplatform.kernel.db import Database, UnitOfWork, utcnow
from certplatform.kernel.settings import Settings
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import AnswerRecorded
from tests.support.accounts import bearer
from tests.support.exams import load

CERT = "KR-INFO-ENGINEER"
PEOPLE, ITEMS = 60, 10


async def plant(db: Database, storage: LocalStorage) -> list[str]:
    """60 learners answer 10 questions (a second, later try of the first question too)."""
    await load(db, storage, CERT)
    async with db.transaction() as uow:
        pool = (await content.practice_pool(uow, CERT))[:ITEMS]
        versions = await content.current_versions(uow, [e.question_id for e in pool])
    rng = random.Random(7)
    now, answers = utcnow(), []
    for person in range(PEOPLE):
        skill = rng.gauss(0, 1)
        for n, entry in enumerate(pool):
            q = entry.question_id
            right = rng.random() < 1 / (1 + np.exp(-(skill - (n - 5) / 3)))
            for again in range(2 if n == 0 else 1):
                answers.append(
                    AnswerRecorded(
                        answer_id=f"{person:04d}{n:02d}{again}".ljust(32, "0"),
                        user_id=f"p{person}",
                        certification=CERT,
                        question_id=q,
                        version_id=versions[q].id,
                        subject=entry.subject_code,
                        context="practice",
                        correct=right or bool(again),  # the retry after the key: right
                        fraction=1.0,
                        elapsed_ms=9_000,
                        answered_at=now - timedelta(minutes=100 - n - again * 50),
                        choice_ids=(),
                    )
                )
    async with db.transaction() as uow:
        await store.record_answers(uow.session, answers)
    return [e.question_id for e in pool]


async def test_the_job_stores_what_irt_calibrate_fits_once_per_key(
    db: Database, storage: LocalStorage
) -> None:
    ids = await plant(db, storage)
    stored = await recalibrate(db, "calibrate:one")
    assert stored == {CERT: ITEMS}

    # The same fit, by hand: first answers only, `irt.calibrate` with its defaults.
    async with db.transaction() as uow:
        rows = (
            await uow.session.execute(
                select(AnswerFact.user_id, AnswerFact.question_id, AnswerFact.correct).order_by(
                    AnswerFact.answered_at, AnswerFact.answer_id
                )
            )
        ).all()
        params = {p.question_id: p for p in (await uow.session.scalars(select(ItemParameter)))}
        run = await uow.session.get(Calibration, CERT)
    first = first_answers((u, q, bool(r)) for u, q, r in rows)
    assert len(first) == PEOPLE * ITEMS
    names = tuple(sorted(ids))
    people = sorted({u for u, _ in first})
    triples = [(people.index(u), names.index(q), int(r)) for (u, q), r in first.items()]
    person, item, correct = (np.array(c) for c in zip(*triples, strict=True))
    expected = calibrate(
        Responses.from_triples(
            person, item, correct, n_persons=PEOPLE, n_items=ITEMS, item_names=names
        )
    ).items
    assert set(params) == set(ids)
    for i, q in enumerate(names):
        assert params[q].a == pytest.approx(expected.a[i], rel=1e-9)
        assert params[q].b == pytest.approx(expected.b[i], rel=1e-9)
        assert params[q].c == 0.0
        assert params[q].responses == PEOPLE
        assert params[q].model == "2pl"
    assert run is not None
    assert (run.items, run.persons, run.responses) == (ITEMS, PEOPLE, PEOPLE * ITEMS)

    # The same message again (a redelivery): nothing happens.
    async with db.transaction() as uow:
        await uow.session.execute(update(ItemParameter).values(a=99.0))
    assert await recalibrate(db, "calibrate:one") == {}
    async with db.transaction() as uow:
        assert set((await uow.session.scalars(select(ItemParameter.a))).all()) == {99.0}

    # The item report shows the stored parameters.
    async with db.transaction() as uow:
        report = {r.question_id: r for r in await item_report(uow, CERT)}
    assert {report[q].a for q in ids} == {99.0}


async def test_two_runs_at_once_leave_one_consistent_calibration(
    db: Database, storage: LocalStorage
) -> None:
    ids = await plant(db, storage)
    results = await asyncio.gather(*(recalibrate(db, f"calibrate:race{k}") for k in range(3)))
    assert any(r == {CERT: ITEMS} for r in results)
    async with db.transaction() as uow:
        rows = (await uow.session.scalars(select(ItemParameter))).all()
        runs = (await uow.session.scalars(select(Calibration))).all()
        done = await uow.session.scalar(
            select(func.count()).select_from(jobs.JobRun).where(jobs.JobRun.job == CALIBRATE_JOB)
        )
    assert sorted(r.question_id for r in rows) == sorted(ids)  # no duplicates, none missing
    assert len(runs) == 1
    # Every item comes from the run the summary names: no mix of two runs.
    assert {r.calibrated_at for r in rows} == {runs[0].calibrated_at}
    assert done == 3


async def test_a_later_snapshot_is_never_replaced_by_an_older_one(
    db: Database, storage: LocalStorage
) -> None:
    await plant(db, storage)
    from certplatform.analytics.calibration import fit_certification, store_fit
    from certplatform.analytics.irt import Model

    older = await fit_certification(db, CERT, Model.TWO_PL)
    newer = await fit_certification(db, CERT, Model.TWO_PL)
    assert older is not None
    assert newer is not None
    async with db.transaction() as uow:
        assert await store_fit(uow, newer, "k-new")
    async with db.transaction() as uow:
        assert not await store_fit(uow, older, "k-old")
        run = await uow.session.get(Calibration, CERT)
        assert run is not None
        assert run.run_key == "k-new"


async def test_three_pl_stores_the_guessing_floor(db: Database, storage: LocalStorage) -> None:
    ids = await plant(db, storage)
    from certplatform.analytics.irt import Model

    await recalibrate(db, "calibrate:3pl", Model.THREE_PL)
    async with db.transaction() as uow:
        versions = await content.current_versions(uow, ids)
        params = {p.question_id: p for p in (await uow.session.scalars(select(ItemParameter)))}
    for q in ids:
        assert params[q].model == "3pl"
        assert params[q].c == pytest.approx(1 / len(versions[q].content.choices))


def test_fit_items_leaves_out_what_nobody_answered() -> None:
    first = {("u1", "q1"): True, ("u2", "q1"): False, ("u1", "q2"): True}
    fitted = fit_items(first, ["q1", "q2", "q3"])
    assert fitted is not None
    fit, persons, counts = fitted
    assert fit.items.names == ("q1", "q2")
    assert (persons, counts) == (2, {"q1": 2, "q2": 1})
    assert fit_items(first, ["q3"]) is None


def test_the_nightly_calibration_is_scheduled_by_settings() -> None:
    on = periodic_jobs(
        Settings(
            SWEEPER_INTERVAL=0, CLEANUP_INTERVAL=0, CALIBRATION_INTERVAL=86_400,
            CALIBRATION_MODEL="3pl",
        )
    )  # fmt: skip
    assert [(p.name, p.interval, p.kwargs, p.offset) for p in on] == [
        (CALIBRATE_JOB, 86_400, {"model": "3pl"}, 18 * 3600)
    ]
    off = periodic_jobs(Settings(SWEEPER_INTERVAL=0, CLEANUP_INTERVAL=0, CALIBRATION_INTERVAL=0))
    assert off == []


async def test_pass_chance_uses_stored_parameters(db: Database, storage: LocalStorage) -> None:
    await plant(db, storage)
    async with db.transaction() as uow:
        pool = await content.practice_pool(uow, CERT)
        blueprint = (await content.blueprints(uow, CERT))[0]
        before = await pass_chance(uow, "p1", blueprint, pool, {})
    assert before is not None
    assert before.provisional_items
    # Every item of the pool calibrated, and all very easy: P(pass) goes up to about 1.
    async with db.transaction() as uow:
        uow.session.add_all(
            ItemParameter(
                question_id=e.question_id,
                certification=CERT,
                model="2pl",
                a=1.0,
                b=-8.0,
                c=0.0,
                responses=50,
                calibrated_at=utcnow(),
            )
            for e in pool
        )
    async with db.transaction() as uow:
        after = await pass_chance(uow, "p1", blueprint, pool, {})
    assert after is not None
    assert not after.provisional_items
    assert after.p_pass > 0.99 > before.p_pass


async def test_the_button_queues_a_run_after_the_commit(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    ids = await plant(db, storage)
    learner = await bearer(client, db)
    refused = await client.post(
        "/admin/items/recalibrate", data={"certification": CERT}, headers=learner
    )
    assert refused.status_code in (403, 404)
    author = await bearer(client, db, "author")
    page = await client.get("/admin/items", params={"certification": CERT}, headers=author)
    assert "Recalibrate now" in page.text or "다시 보정" in page.text
    sent = await client.post(
        "/admin/items/recalibrate", data={"certification": CERT}, headers=author
    )
    assert sent.status_code == 303
    assert "queued=" in sent.headers["location"]
    for _ in range(200):  # the in-memory broker runs it in this process
        async with db.transaction() as uow:
            stored = (await uow.session.scalars(select(ItemParameter.question_id))).all()
        if stored:
            break
        await asyncio.sleep(0.05)
    assert sorted(stored) == sorted(ids)
    page = await client.get(
        "/admin/items", params={"certification": CERT, "queued": "true"}, headers=author
    )
    assert page.status_code == 200
    assert f"{PEOPLE * ITEMS}" in page.text  # the stored run's responses are shown


async def test_a_failing_write_stores_nothing_and_the_retry_runs(
    db: Database, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: when writing fails part way, no parameter, no summary and no job
    key is left, so the retry of the same message does the whole calibration."""
    ids = await plant(db, storage)
    from certplatform.analytics import calibration

    real = calibration.store_fit

    async def failing(uow: UnitOfWork, fitted: calibration.Fitted, key: str) -> bool:
        await real(uow, fitted, key)  # the rows are written, then the transaction fails
        raise RuntimeError("the database went away")

    monkeypatch.setattr(calibration, "store_fit", failing)
    with pytest.raises(RuntimeError):
        await recalibrate(db, "calibrate:flaky")
    async with db.transaction() as uow:
        assert (await uow.session.scalars(select(ItemParameter))).all() == []
        assert await uow.session.get(Calibration, CERT) is None
        assert await uow.session.get(jobs.JobRun, "calibrate:flaky") is None
    monkeypatch.setattr(calibration, "store_fit", real)
    assert await recalibrate(db, "calibrate:flaky") == {CERT: ITEMS}
    async with db.transaction() as uow:
        stored = (await uow.session.scalars(select(ItemParameter.question_id))).all()
    assert sorted(stored) == sorted(ids)
