"""The analytics store on ClickHouse (embedded: chdb) against the relational one: the same
events give the same rows to every shared query, the same dashboard and item report;
replaying them changes nothing; the backfill, in code and from the command line, rebuilds
the same store."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Boolean, Date, Float, delete, select

from certplatform.analytics import dashboard as board
from certplatform.analytics import handlers, port, queries
from certplatform.analytics.backfill import backfill
from certplatform.analytics.calibration import recalibrate
from certplatform.analytics.clickhouse.store import ClickHouseStore
from certplatform.analytics.items import item_report
from certplatform.analytics.models import Calibration, ItemParameter
from certplatform.analytics.port import AnalyticsStore, Query
from certplatform.analytics.relational import RelationalStore
from certplatform.analytics.store import study_day
from certplatform.content import service as content
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, UTCDateTime, utcnow
from certplatform.kernel.events import Event, OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.contracts import (
    ANSWERS_RECORDED,
    AnswerRecorded,
    AttemptGraded,
    PracticeStarted,
)
from tests.analytics.test_pipeline import learner, practise
from tests.support.events import relay_events
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key

CERT = "KR-INFO-ENGINEER"
LEARNERS = [f"p{n}" for n in range(5)]
_WHEN, _DAY, _FLAG = UTCDateTime(), Date(), Boolean()

# Every table, row by row, in the shared dialect (attempts without the JSON sections,
# which are JSON in one store and text in the other).
SNAPSHOT = {
    "answers": Query(
        "SELECT answer_id, user_id, certification, question_id, version_id, subject, context, "
        "correct, fraction, elapsed_ms, answered_at, day FROM analytics_answers",
        columns={"correct": _FLAG, "answered_at": _WHEN, "day": _DAY},
    ),
    "days": Query(
        "SELECT user_id, certification, day, subject, answered, correct, elapsed_ms "
        "FROM analytics_learner_days",
        columns={"day": _DAY},
    ),
    "items": Query(
        "SELECT question_id, certification, attempts, correct, elapsed_ms FROM analytics_items"
    ),
    "choices": Query("SELECT question_id, choice_id, picks FROM analytics_item_choices"),
    "attempts": Query(
        "SELECT attempt_id, user_id, certification, form_kind, form_id, form_name, started_at, "
        "submitted_at, percent, passed, regraded_at, previous_percent, previous_passed "
        "FROM analytics_attempts",
        columns={
            "started_at": _WHEN,
            "submitted_at": _WHEN,
            "passed": _FLAG,
            "regraded_at": _WHEN,
            "previous_passed": _FLAG,
            "percent": Float(),
            "previous_percent": Float(),
        },
    ),
    "runs": Query(
        "SELECT session_id, user_id, certification, mode, subject, size, started_at "
        "FROM analytics_practice_runs",
        columns={"started_at": _WHEN},
    ),
}


@pytest.fixture(scope="session")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> ClickHouseStore:
    # chdb runs one embedded server per process, on one directory: one store per test run.
    return ClickHouseStore.embedded(str(tmp_path_factory.mktemp("chdb")))


@pytest.fixture
async def ch(chdb_store: ClickHouseStore) -> ClickHouseStore:
    await chdb_store.clear()
    return chdb_store


@contextmanager
def serving(store: AnalyticsStore) -> Iterator[None]:
    previous = port.use(lambda _session: store)
    try:
        yield
    finally:
        port.use(previous)


async def snapshot(store: AnalyticsStore) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(await store.rows(q), key=repr) for name, q in SNAPSHOT.items()}


async def relational_snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    async with db.transaction() as uow:
        return await snapshot(RelationalStore(uow.session))


class Fixture:
    """Answers of five learners over three weeks, attempts with a regrade, runs."""

    def __init__(self, pool: list[tuple[str, str, str | None, list[str]]]) -> None:
        rng, now = random.Random(31), utcnow()
        self.answers: list[AnswerRecorded] = []
        for n in range(400):
            user = LEARNERS[n % len(LEARNERS)]
            qid, version, subject, choices = pool[rng.randrange(40)]  # repeats: latest counts
            pick = rng.choice(choices)
            # Some answers share one instant: the tie-break by answer id decides "latest".
            at = now - timedelta(days=rng.randrange(21), seconds=rng.randrange(3) * 60)
            self.answers.append(
                AnswerRecorded(
                    answer_id=f"{n:06d}".ljust(32, "a"), user_id=user, certification=CERT,
                    question_id=qid, version_id=version, subject=None if n == 7 else subject,
                    context="practice" if n % 4 else "exam", correct=pick == choices[0],
                    fraction=1.0 if pick == choices[0] else 0.0,
                    elapsed_ms=rng.randrange(2_000, 60_000), answered_at=at, choice_ids=(pick,),
                )
            )  # fmt: skip
        graded = {
            "user_id": "p0", "certification": CERT, "form_kind": "blueprint", "form_id": "bp",
            "form_name": "모의고사", "sections": {"S1": 55.0},
        }  # fmt: skip
        self.started = [
            {"attempt_id": f"t{k}".ljust(32, "0"), "user_id": "p0", "certification": CERT,
             "form": "모의고사", "form_kind": "blueprint", "form_id": "bp",
             "started_at": (now - timedelta(days=5 - k)).isoformat()}
            for k in range(3)
        ]  # fmt: skip
        first = AttemptGraded(
            attempt_id=self.started[0]["attempt_id"], started_at=now - timedelta(days=5),
            submitted_at=now - timedelta(days=5, hours=-2), percent=55.0, passed=False, **graded,
        )  # fmt: skip
        second = first.model_copy(
            update={"attempt_id": self.started[1]["attempt_id"], "percent": 70.0,
                    "submitted_at": now - timedelta(days=4, hours=-2)}
        )  # fmt: skip
        regrade = second.model_copy(
            update={
                "percent": 75.0,
                "passed": True,
                "regraded_at": now - timedelta(days=1),
                "previous_percent": 70.0,
                "previous_passed": False,
            }
        )
        # The submit's event comes again after the regrade: it must not undo it.
        self.graded = [first, second, regrade, second]
        self.runs = [
            PracticeStarted(
                session_id=f"r{k}".ljust(32, "0"), user_id=LEARNERS[k], certification=CERT,
                mode="random", subject=None if k else "S1", size=10,
                started_at=now - timedelta(days=k),
            )
            for k in range(3)
        ]  # fmt: skip

    async def feed(self, store: AnalyticsStore, batch: int = 7) -> None:
        """As the consumer gets them: answers a few at a time, then the rest."""
        for i in range(0, len(self.answers), batch):
            await store.record_answers(self.answers[i : i + batch])
        await store.record_attempts_started(self.started)
        for one in self.graded:
            await store.record_attempts_graded([one])
        await store.record_practice_runs(self.runs)


async def make_fixture(db: Database, storage: LocalStorage) -> Fixture:
    await load(db, storage, CERT)
    async with db.transaction() as uow:
        entries = await content.practice_pool(uow, CERT)
        versions = await content.current_versions(uow, [e.question_id for e in entries])
    pool = []
    for e in entries:
        choices = versions[e.question_id].content.choices
        ordered = sorted(choices, key=lambda c: -c.weight)  # the key first
        pool.append(
            (e.question_id, versions[e.question_id].id, e.subject_code, [c.id for c in ordered])
        )
    random.Random(2).shuffle(pool)
    return Fixture(pool)


def query_params(fixture: Fixture, user: str) -> dict[str, dict[str, Any]]:
    today = study_day(utcnow())
    return {
        "LAST_CERTIFICATION": {"user": user},
        "ANSWERS_PER_DAY": {"user": user, "certification": CERT, "since": today - timedelta(14)},
        "STUDY_DAYS": {"user": user, "since": today - timedelta(days=400)},
        "SEEN": {"user": user, "certification": CERT},
        "SCORES": {"user": user, "certification": CERT},
        "SUBJECT_DAYS": {"user": user, "certification": CERT},
        "RECENT_REGRADES": {"user": user, "since": utcnow() - timedelta(days=30)},
        "REGRADE_OF": {"user": user, "attempt": fixture.started[1]["attempt_id"]},
        "ITEM_COUNTS": {"questions": sorted({a.question_id for a in fixture.answers})[:25]},
        "MY_ANSWERS": {"user": user, "certification": CERT},
        "CERTIFICATION_ANSWERS": {"certification": CERT},
        "ANSWERED_CERTIFICATIONS": {},
        "CERTIFICATION_RESULTS": {"certification": CERT},
        "MY_ANSWER_COUNT": {"user": user, "certification": CERT},
        "FORM_SITTINGS": {"certification": CERT},
    }


UNORDERED = {"ANSWERS_PER_DAY", "STUDY_DAYS", "SUBJECT_DAYS", "ITEM_COUNTS", "FORM_SITTINGS"}


async def figures(db: Database, user: str) -> tuple[Any, ...]:
    me = Principal(user, f"{user}@example.com", "learner", "", "bearer", "test")
    async with db.transaction() as uow:
        dashboard = await board.dashboard(uow, me, CERT)
        items = await item_report(uow, CERT, irt=False)
        mine = await board.my_certification(uow, me)
    return dashboard, items, mine


async def test_the_same_events_give_the_same_figures_on_both_stores(
    db: Database, storage: LocalStorage, ch: ClickHouseStore
) -> None:
    fixture = await make_fixture(db, storage)
    async with db.transaction() as uow:
        await fixture.feed(RelationalStore(uow.session))
    await fixture.feed(ch)

    assert await snapshot(ch) == await relational_snapshot(db)
    for user in ("p0", "p1", "nobody"):
        params = query_params(fixture, user)
        assert set(params) == set(queries.ALL)  # every shared query is compared
        for name, query in queries.ALL.items():
            async with db.transaction() as uow:
                here = await RelationalStore(uow.session).rows(query, **params[name])
            there = await ch.rows(query, **params[name])
            if name in UNORDERED:
                here, there = sorted(here, key=repr), sorted(there, key=repr)
            assert there == here, name
        relational = await figures(db, user)
        with serving(ch):
            clickhouse = await figures(db, user)
        assert clickhouse == relational
    dashboard, items, _ = await figures(db, "p0")
    # The fixture reaches every figure: accuracy and time per subject, the trend, seen vs
    # bank, scores with the regrade kept, and the item rows.
    assert dashboard.seen > 0
    assert dashboard.bank_size >= dashboard.seen
    assert any(s.accuracy is not None and s.mean_seconds for s in dashboard.subjects)
    assert any(w.answered for s in dashboard.subjects for w in s.weeks)
    assert [s.percent for s in dashboard.scores] == [55.0, 75.0]
    assert [r.percent for r in dashboard.regrades] == [75.0]
    assert dashboard.pass_chance is not None
    assert any(row.attempts for row in items)
    # Values are quoted, never spliced: a quote in a parameter is just a character.
    sneaky = {"user": "p0' OR '1'='1", "certification": CERT}
    assert await ch.rows(queries.SEEN, **sneaky) == [(0,)]


async def test_the_calibration_job_reads_the_same_answers_from_clickhouse(
    db: Database, storage: LocalStorage, ch: ClickHouseStore
) -> None:
    fixture = await make_fixture(db, storage)
    async with db.transaction() as uow:
        await fixture.feed(RelationalStore(uow.session))
    await fixture.feed(ch)

    async def stored() -> dict[str, tuple[float, float, int]]:
        async with db.transaction() as uow:
            rows = (await uow.session.scalars(select(ItemParameter))).all()
        return {r.question_id: (r.a, r.b, r.responses) for r in rows}

    assert await recalibrate(db, "calibrate:relational")
    relational = await stored()
    async with db.transaction() as uow:
        await uow.session.execute(delete(ItemParameter))
        await uow.session.execute(delete(Calibration))
    with serving(ch):
        assert await recalibrate(db, "calibrate:clickhouse")
    assert await stored() == relational
    assert relational


async def test_replaying_events_on_clickhouse_changes_nothing(
    db: Database, storage: LocalStorage, ch: ClickHouseStore
) -> None:
    fixture = await make_fixture(db, storage)
    await fixture.feed(ch)
    before = await snapshot(ch)
    with serving(ch):
        figures_before = await figures(db, "p0")
    ch.executor.command("SYSTEM STOP MERGES")
    try:
        await fixture.feed(ch, batch=50)  # every event again, batched differently
        await fixture.feed(ch, batch=400)
        raw = ch.executor.query("SELECT count() FROM analytics_answers", {})
        assert raw == [(3 * len(fixture.answers),)]  # the copies are there, unmerged
        assert await snapshot(ch) == before
        with serving(ch):
            assert await figures(db, "p0") == figures_before
    finally:
        ch.executor.command("SYSTEM START MERGES")
    ch.executor.command("OPTIMIZE TABLE analytics_answers FINAL")
    assert ch.executor.query("SELECT count() FROM analytics_answers", {}) == [
        (len(fixture.answers),)
    ]
    assert await snapshot(ch) == before


async def _use_the_product(client: httpx.AsyncClient, db: Database) -> None:
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


async def test_consumer_and_backfill_build_the_same_clickhouse_store(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    storage: LocalStorage,
    ch: ClickHouseStore,
    database_url: str,
    tmp_path: Path,
) -> None:
    await load(db, storage, CERT)
    await _use_the_product(client, db)
    await relay_events(app)  # into the relational store
    relational = await relational_snapshot(db)
    assert len(relational["answers"]) == 5 + 2 + 12

    # The same outbox events through the same handlers, with ClickHouse serving: the
    # answers as one relayed batch (one write), the rest one by one.
    with serving(ch):
        async with db.transaction() as uow:
            rows = (await uow.session.scalars(select(OutboxEvent))).all()
            events = [Event(r.id, r.topic, r.payload, r.created_at) for r in rows]
            answers = [e for e in events if e.topic == ANSWERS_RECORDED]
            assert len(answers) > 2
            await handlers.on_answers_batch(uow.session, answers)
            for event in events:
                if event.topic in handlers.HANDLERS and event.topic != ANSWERS_RECORDED:
                    await handlers.HANDLERS[event.topic](uow.session, event)
    assert await snapshot(ch) == relational

    with serving(ch):
        async with db.transaction() as uow:
            report = await backfill(uow, page=4)
    assert (report.answers, report.attempts, report.practice_runs) == (19, 1, 2)
    assert await snapshot(ch) == relational

    # The command, in its own process, on its own embedded store (CH_HOST=chdb:…).
    folder = tmp_path / "cli-chdb"
    env = {**os.environ, "DATABASE_URL": database_url, "CH_HOST": f"chdb://{folder}"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "certplatform.cli", "analytics", "backfill"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "19 answers, 1 attempts, 2 practice runs" in done.stdout
    count = (
        f"from chdb import session; s = session.Session({str(folder)!r}); "
        "print(s.query('SELECT count(), sum(correct) FROM analytics_answers FINAL', 'CSV'), "
        "s.query('SELECT sum(answered), sum(correct) FROM analytics_learner_days FINAL', 'CSV'))"
    )
    read = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", count],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    right = sum(1 for row in relational["answers"] if row[7])
    assert read.stdout.split() == [f"19,{right}", f"19,{right}"]
