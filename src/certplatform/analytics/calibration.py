"""Item calibration as a job: IRT parameters re-fitted from the stored answer facts (ADR 32).

The fit is `irt.calibrate`, the code behind `certplatform analytics irt`, over each
learner's *first* answer to each question (a later try after seeing the key is not a fresh
answer), one certification at a time. The facts are read from the analytics store through
its port (so from ClickHouse too, ADR 31) and fitted outside any write transaction; the
parameters live in the application database and are written in one transaction with the
job's idempotency key (`run_once`): all of a certification's items or none.

Two runs at once (the nightly slot and an author's button, two workers) cannot interleave
their writes into a mix: the certification's calibration row is upserted only when it
holds an *older* data snapshot than this run's, and the items are written only when that
row was. The newest snapshot wins, whatever order the runs commit in; a run that lost
writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import structlog
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from certplatform.analytics import queries
from certplatform.analytics.irt import Calibration as Fit
from certplatform.analytics.irt import ItemParameters, Model, Responses, calibrate
from certplatform.analytics.models import Calibration, ItemParameter
from certplatform.analytics.port import store_for
from certplatform.content import service as content
from certplatform.kernel.db import Database, UnitOfWork, utcnow
from certplatform.kernel.jobs import (
    JobRun,
    Periodic,
    current_database,
    enqueue_after_commit,
    job,
    run_once,
)

log = structlog.get_logger(__name__)

CALIBRATE_JOB = "analytics.calibrate"

# (learner, question) → right or wrong on the first answer
FirstAnswers = dict[tuple[str, str], bool]
IntCounts = dict[str, int]


@dataclass(frozen=True)
class Fitted:
    """One certification's fit, ready to store."""

    certification: str
    fit: Fit
    persons: int
    responses: IntCounts
    read_at: datetime
    seconds: float


def first_answers(rows: Iterable[tuple[str, str, bool]]) -> FirstAnswers:
    """Rows (learner, question, correct) in answer order → each pair's first answer."""
    first: FirstAnswers = {}
    for user, qid, right in rows:
        first.setdefault((user, qid), bool(right))
    return first


def fit_items(
    first: FirstAnswers,
    questions: Sequence[str] | None = None,
    model: Model = Model.TWO_PL,
    choices: dict[str, int] | None = None,
) -> tuple[Fit, int, IntCounts] | None:
    """`irt.calibrate` (default priors, ADR 14) over the first answers; questions nobody
    answered are left out. Returns the fit, the number of learners and the responses per
    question, or None when nothing was answered."""
    wanted = set(questions) if questions is not None else None
    answered = sorted({q for _, q in first if wanted is None or q in wanted})
    if model is Model.THREE_PL and choices is not None:
        answered = [q for q in answered if choices.get(q, 0) >= 2]  # no floor without choices
    if not answered:
        return None
    q_index = {q: i for i, q in enumerate(answered)}
    people = sorted({u for u, q in first if q in q_index})
    p_index = {u: i for i, u in enumerate(people)}
    triples = [(p_index[u], q_index[q], int(r)) for (u, q), r in first.items() if q in q_index]
    person, item, correct = (np.array(col) for col in zip(*triples, strict=True))
    responses = Responses.from_triples(
        person, item, correct, n_persons=len(people), n_items=len(answered),
        item_names=tuple(answered),
    )  # fmt: skip
    per_item = np.bincount(item, minlength=len(answered))
    counts = {q: int(per_item[i]) for i, q in enumerate(answered)}
    if model is Model.THREE_PL:
        k = [choices[q] for q in answered] if choices else None
        return calibrate(responses, model, choices=k), len(people), counts
    return calibrate(responses, model), len(people), counts


async def _read(uow: UnitOfWork, certification: str) -> FirstAnswers:
    store = store_for(uow.session)  # the analytics store, wherever it lives (ADR 31)
    return first_answers(await queries.certification_results(store, certification))


async def fit_certification(db: Database, certification: str, model: Model) -> Fitted | None:
    """Read the facts (a snapshot) and fit them; None when nothing was answered."""
    async with db.transaction() as uow:
        read_at = utcnow()
        first = await _read(uow, certification)
        choices: dict[str, int] | None = None
        if model is Model.THREE_PL:
            ids = sorted({q for _, q in first})
            versions = await content.current_versions(uow, ids)
            choices = {q: len(v.content.choices) for q, v in versions.items()}
    started = time.perf_counter()
    result = fit_items(first, model=model, choices=choices)
    if result is None:
        return None
    fit, persons, counts = result
    return Fitted(certification, fit, persons, counts, read_at, time.perf_counter() - started)


async def store_fit(uow: UnitOfWork, fitted: Fitted, run_key: str) -> bool:
    """Write one certification's parameters; False (nothing written) when a calibration of
    a newer snapshot is already stored."""
    session = uow.session
    insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    items = fitted.fit.items
    summary = {
        "certification": fitted.certification,
        "model": fitted.fit.model.value,
        "items": len(items),
        "persons": fitted.persons,
        "responses": sum(fitted.responses.values()),
        "loglik": fitted.fit.loglik,
        "iterations": fitted.fit.iterations,
        "converged": fitted.fit.converged,
        "calibrated_at": fitted.read_at,
        "seconds": fitted.seconds,
        "run_key": run_key,
    }
    stmt = insert(Calibration).values(summary)
    # The condition is in the write: the row's lock orders concurrent runs, and only a
    # newer snapshot replaces it.
    claimed = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Calibration.certification],
            set_={k: stmt.excluded[k] for k in summary if k != "certification"},
            where=Calibration.calibrated_at < stmt.excluded.calibrated_at,
        ).returning(Calibration.certification)
    )
    if claimed.first() is None:
        log.info("calibration.superseded", certification=fitted.certification, key=run_key)
        return False
    await session.execute(
        delete(ItemParameter).where(
            ItemParameter.certification == fitted.certification,
            ItemParameter.question_id.not_in(items.names),
        )
    )
    rows = [
        {
            "question_id": q,
            "certification": fitted.certification,
            "model": fitted.fit.model.value,
            "a": float(items.a[i]),
            "b": float(items.b[i]),
            "c": float(items.c[i]),
            "responses": fitted.responses[q],
            "calibrated_at": fitted.read_at,
        }
        for i, q in enumerate(items.names)
    ]
    for start in range(0, len(rows), 500):  # sorted ids: concurrent writers lock in order
        chunk = insert(ItemParameter).values(rows[start : start + 500])
        await session.execute(
            chunk.on_conflict_do_update(
                index_elements=[ItemParameter.question_id],
                set_={k: chunk.excluded[k] for k in rows[0] if k != "question_id"},
            )
        )
    return True


async def certifications_with_answers(db: Database) -> list[str]:
    async with db.transaction() as uow:
        return await queries.answered_certifications(store_for(uow.session))


async def recalibrate(
    db: Database, key: str, model: Model = Model.TWO_PL, certification: str | None = None
) -> dict[str, int]:
    """Fit every certification that has answers (or just `certification`) and store all of
    it in one transaction under the job key. Returns the items stored per certification
    (empty when this key already ran or a newer calibration was stored meanwhile)."""
    codes = [certification] if certification else await certifications_with_answers(db)
    fits = [f for f in [await fit_certification(db, c, model) for c in codes] if f]

    async def write(uow: UnitOfWork) -> dict[str, int]:
        stored = {}
        for fitted in fits:
            if await store_fit(uow, fitted, key):
                stored[fitted.certification] = len(fitted.fit.items)
        return stored

    stored = await run_once(db, key, CALIBRATE_JOB, write)
    log.info("calibration.stored", key=key, items=stored)
    return stored or {}


@job(CALIBRATE_JOB, retries=2)
async def calibrate_job(key: str, model: str = "2pl", certification: str | None = None) -> int:
    stored = await recalibrate(current_database(), key, Model(model), certification)
    return sum(stored.values())


def nightly(interval: float, offset: float, model: str) -> Periodic:
    """The calibration as a periodic job: once per `interval`, slots starting `offset`
    seconds after 00:00 UTC."""
    return Periodic(CALIBRATE_JOB, interval, {"model": model}, offset)


def request_recalibration(uow: UnitOfWork, model: str, certification: str | None = None) -> str:
    """Queue a calibration that leaves only once `uow` commits; returns its key."""
    return enqueue_after_commit(uow, CALIBRATE_JOB, model=model, certification=certification)


# ---- reading what is stored ----------------------------------------------------------------


async def stored_parameters(
    uow: UnitOfWork, question_ids: Sequence[str]
) -> dict[str, ItemParameter]:
    if not question_ids:
        return {}
    rows = await uow.session.scalars(
        select(ItemParameter).where(ItemParameter.question_id.in_(list(question_ids)))
    )
    return {r.question_id: r for r in rows.all()}


def parameters_of(ids: Sequence[str], stored: dict[str, ItemParameter]) -> ItemParameters:
    """The stored parameters of `ids`, in order (all must be stored)."""
    rows = [stored[q] for q in ids]
    return ItemParameters(
        tuple(ids),
        np.array([r.a for r in rows]),
        np.array([r.b for r in rows]),
        np.array([r.c for r in rows]),
    )


@dataclass(frozen=True)
class LastRun:
    """What the item page shows about calibrations."""

    stored: Calibration | None  # the certification's stored calibration
    last_job_at: datetime | None  # the last calibration job that committed (any slot)


async def last_run(uow: UnitOfWork, certification: str) -> LastRun:
    stored = await uow.session.get(Calibration, certification)
    done = await uow.session.scalar(
        select(JobRun.done_at)
        .where(JobRun.job == CALIBRATE_JOB)
        .order_by(JobRun.done_at.desc())
        .limit(1)
    )
    return LastRun(stored, done)
