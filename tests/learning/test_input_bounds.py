"""Out-of-range input to the exam API is a 4xx that names the field, never a 500, and
integrity reports are bounded in size and rate."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select

from certplatform.kernel.db import Database
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import AttemptEvent
from tests.support.accounts import bearer
from tests.support.exams import blueprint_id, keys_of, load, save

FCC = "US-FCC-TECHNICIAN"
DATE_NOW = 1_800_000_000_000  # Date.now() in 2027: beyond a 32-bit INTEGER


async def _attempt(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> tuple[dict[str, str], dict[str, Any]]:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, FCC)}, headers=learner
    )
    assert started.status_code == 201, started.text
    view: dict[str, Any] = started.json()
    return learner, view


async def test_date_now_operation_numbers_are_stored_and_ordered(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    learner, view = await _attempt(client, db, storage)
    item = view["items"][0]
    key = (await keys_of(db, view))[item["position"]][0]
    other = next(c["label"] for c in item["question"]["choices"] if c["label"] != key)

    first = await save(client, learner, view["id"], 1, key, seq=DATE_NOW + 5)
    assert first.status_code == 200, first.text
    assert first.json()["applied"] is True
    # An older Date.now() arriving late loses to the newer one.
    stale = await save(client, learner, view["id"], 1, other, seq=DATE_NOW)
    assert stale.status_code == 200, stale.text
    assert stale.json()["applied"] is False
    biggest = await save(client, learner, view["id"], 2, key, seq=2**63 - 1)
    assert biggest.status_code == 200, biggest.text

    shown = (await client.get(f"/api/v1/attempts/{view['id']}", headers=learner)).json()
    assert shown["items"][0]["answer"]["choices"] == [key]


async def test_out_of_range_numbers_are_422_naming_the_field(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    learner, view = await _attempt(client, db, storage)
    attempt = view["id"]

    too_big = await save(client, learner, attempt, 1, "1", seq=2**63)
    assert too_big.status_code == 422
    assert "op_seq" in too_big.json()["error"]["message"]
    position = await save(client, learner, attempt, 2**31, "1")
    assert position.status_code == 422
    assert "position" in position.json()["error"]["message"]
    elapsed = await client.put(
        f"/api/v1/attempts/{attempt}/answers/1",
        json={"op_id": "x", "op_seq": 1, "flagged": True, "elapsed_ms": 2**40},
        headers=learner,
    )
    assert elapsed.status_code == 422
    assert "elapsed_ms" in elapsed.json()["error"]["message"]
    long_id = await client.get(f"/api/v1/attempts/{'a' * 5000}", headers=learner)
    assert long_id.status_code == 422
    practice = await client.get(
        f"/api/v1/practice/sessions/{'a' * 32}/questions/{2**31}", headers=learner
    )
    assert practice.status_code == 422

    # Nothing was saved by any of them.
    shown = (await client.get(f"/api/v1/attempts/{attempt}", headers=learner)).json()
    assert all(i["answer"] is None and not i["flagged"] for i in shown["items"])


async def _stored_events(db: Database) -> tuple[int, int]:
    async with db.transaction() as uow:
        events = await uow.session.scalar(select(func.count()).select_from(AttemptEvent))
        outbox = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "certplatform.learning.attempt.integrity.v1")
        )
    return events or 0, outbox or 0


async def test_integrity_reports_are_bounded_in_kind_and_size(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    learner, view = await _attempt(client, db, storage)
    url = f"/api/v1/attempts/{view['id']}/events"

    ok = await client.post(
        url, json={"kind": "focus_lost", "detail": {"ms": 1200}}, headers=learner
    )
    assert ok.status_code == 204, ok.text
    unknown = await client.post(url, json={"kind": "teleported"}, headers=learner)
    assert unknown.status_code == 422
    assert "kind" in unknown.json()["error"]["message"]
    big = await client.post(
        url,
        json={
            "kind": "paste",
            "detail": {"text": "x" * 499, **{f"k{i}": "y" * 200 for i in range(9)}},
        },
        headers=learner,
    )
    assert big.status_code == 422
    assert "bytes" in big.json()["error"]["message"]
    many = await client.post(
        url, json={"kind": "paste", "detail": {f"k{i}": i for i in range(21)}}, headers=learner
    )
    assert many.status_code == 422
    nested = await client.post(
        url, json={"kind": "paste", "detail": {"a": {"b": "c"}}}, headers=learner
    )
    assert nested.status_code == 422
    # Five megabytes never reach the handler: the body cap answers first.
    huge = await client.post(
        url,
        content=json.dumps({"kind": "paste", "detail": {"text": "x" * 5_000_000}}),
        headers={**learner, "content-type": "application/json"},
    )
    assert huge.status_code == 413

    assert await _stored_events(db) == (1, 1)


async def test_integrity_reports_are_rate_limited_per_attempt(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    learner, view = await _attempt(client, db, storage)
    url = f"/api/v1/attempts/{view['id']}/events"
    for n in range(30):
        reply = await client.post(url, json={"kind": "focus_lost"}, headers=learner)
        assert reply.status_code == 204, (n, reply.text)
    refused = await client.post(url, json={"kind": "focus_lost"}, headers=learner)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "integrity reports" in refused.json()["error"]["message"]
    assert await _stored_events(db) == (30, 30)

    # The limit is per attempt: another attempt of the same learner still reports.
    second = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, FCC)}, headers=learner
    )
    other = await client.post(
        f"/api/v1/attempts/{second.json()['id']}/events",
        json={"kind": "focus_lost"},
        headers=learner,
    )
    assert other.status_code == 204, other.text
