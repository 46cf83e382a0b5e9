"""The Prometheus metrics: requests by route template, the exam flow, the outbox and jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from taskiq.kicker import AsyncKicker

from certplatform.kernel import jobs
from certplatform.kernel.admission import AdmissionControl
from certplatform.kernel.db import Database
from certplatform.kernel.events import measure_backlog, record_event
from certplatform.kernel.storage import LocalStorage
from certplatform.kernel.telemetry import REGISTRY
from certplatform.learning.tasks import SWEEP_JOB
from tests.support.accounts import bearer
from tests.support.events import relay_events
from tests.support.exams import blueprint_id, keys_of, load, save

CERT = "US-FCC-TECHNICIAN"
SAVE_ROUTE = "/api/v1/attempts/{attempt_id}/answers/{position}"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_exam_is_counted_and_requests_are_labelled_by_template(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    started_before = value("exam_attempts_started_total")
    submitted_before = value("exam_attempts_submitted_total", by="learner")
    graded_before = value("exam_grading_duration_seconds_count")
    saves_before = value("http_requests_total", method="PUT", route=SAVE_ROUTE, status="200")

    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, CERT)}, headers=learner
    )
    assert started.status_code == 201, started.text
    view = started.json()
    keys = await keys_of(db, view)
    for item in view["items"][:3]:
        ack = await save(client, learner, view["id"], item["position"], keys[item["position"]][0])
        assert ack.status_code == 200, ack.text
    submitted = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)
    assert submitted.status_code == 200, submitted.text
    # A repeated submit returns the result but grades nothing again.
    await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)

    assert value("exam_attempts_started_total") == started_before + 1
    assert value("exam_attempts_submitted_total", by="learner") == submitted_before + 1
    assert value("exam_grading_duration_seconds_count") == graded_before + 1
    assert value("exam_grading_duration_seconds_sum") > 0
    saves = value("http_requests_total", method="PUT", route=SAVE_ROUTE, status="200")
    assert saves == saves_before + 3
    text = (await client.get("/metrics")).text
    assert f'route="{SAVE_ROUTE}"' in text
    assert view["id"] not in text  # the raw path never becomes a label


async def test_unknown_paths_and_methods_keep_the_labels_bounded(
    client: httpx.AsyncClient,
) -> None:
    before = value("http_requests_total", method="other", route="unmatched", status="404")
    for n in range(3):
        await client.request("BREW", f"/no/such/path/{n}")
    after = value("http_requests_total", method="other", route="unmatched", status="404")
    assert after == before + 3
    assert "/no/such/path" not in (await client.get("/metrics")).text


async def test_the_outbox_backlog_and_lag_are_measured(app: FastAPI, db: Database) -> None:
    await relay_events(app)  # start from an empty outbox
    lag_before = value("outbox_event_lag_seconds_count")
    async with db.transaction() as uow:
        for n in range(2):
            record_event(uow.session, "certplatform.test.pinged.v1", {"n": n})
    async with db.sessions() as session:
        await measure_backlog(session)
    assert value("outbox_pending_events") == 2
    assert value("outbox_oldest_pending_age_seconds") >= 0
    assert await relay_events(app) == 2
    assert value("outbox_event_lag_seconds_count") == lag_before + 2
    async with db.sessions() as session:
        await measure_backlog(session)
    assert value("outbox_pending_events") == 0
    assert value("outbox_oldest_pending_age_seconds") == 0


async def test_a_job_run_is_timed(db: Database) -> None:
    labels = {"task": "learning.sweep_deadlines", "outcome": "ok"}
    before = value("job_duration_seconds_count", **labels)
    # This process's own in-memory broker: an earlier test may have left a Redis one behind.
    shared = jobs.broker
    broker = jobs.configure(None, "telemetry-test:")
    await broker.startup()
    try:
        previous: Database | None = jobs.current_database()
    except RuntimeError:
        previous = None
    jobs.bind_database(db)
    try:
        kicker: AsyncKicker[Any, Any] = AsyncKicker(task_name=SWEEP_JOB, broker=broker, labels={})
        task = await kicker.kiq(key="sweep-timed", grace_seconds=60.0)
        result = await task.wait_result(timeout=30)
    finally:
        jobs.bind_database(previous)
        await broker.shutdown()
        jobs.broker = shared  # the app's broker again, for its own shutdown
    assert not result.is_err, result.error
    assert value("job_duration_seconds_count", **labels) == before + 1


async def test_the_admission_queue_depth_and_rejections_are_measured() -> None:
    release = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = AdmissionControl(slow, limit=1, wait=5, queue=1)
    statuses: list[int] = []

    async def call() -> None:
        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await gate({"type": "http", "method": "GET", "path": "/x"}, receive, send)

    waiting, rejected = value("http_admission_waiting"), value("http_admission_rejected_total")
    first = asyncio.create_task(call())  # takes the slot
    await asyncio.sleep(0.05)
    second = asyncio.create_task(call())  # queues
    await asyncio.sleep(0.05)
    assert value("http_admission_waiting") == waiting + 1
    await call()  # the queue is full: turned away at once
    assert statuses == [503]
    assert value("http_admission_rejected_total") == rejected + 1
    release.set()
    await asyncio.gather(first, second)
    assert sorted(statuses) == [204, 204, 503]
    assert value("http_admission_waiting") == waiting
