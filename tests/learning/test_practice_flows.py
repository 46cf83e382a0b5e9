"""Practice → wrong-answer note → FSRS due queue, bookmarks, settings, exam date."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import ReviewCard
from certplatform.learning.service import utc_today
from tests.support.accounts import bearer
from tests.support.exams import keys_of, load

CERT = "KR-INFO-ENGINEER"


async def _start(client: httpx.AsyncClient, headers: dict[str, str], **spec: object) -> dict:  # type: ignore[type-arg]
    reply = await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT, **spec}, headers=headers
    )
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def _question(client: httpx.AsyncClient, headers: dict[str, str], sid: str, n: int) -> dict:  # type: ignore[type-arg]
    reply = await client.get(f"/api/v1/practice/sessions/{sid}/questions/{n}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def _answer(
    client: httpx.AsyncClient, headers: dict[str, str], sid: str, n: int, label: str, ms: int = 5000
) -> dict:  # type: ignore[type-arg]
    reply = await client.post(
        f"/api/v1/practice/sessions/{sid}/questions/{n}/answer",
        json={"answer": {"choices": [label]}, "elapsed_ms": ms},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_practice_wrong_note_and_review_queue(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    session = await _start(client, learner, subject="S3", limit=5)
    assert session["total"] == 5
    first = await _question(client, learner, session["id"], 0)
    assert "explanation" not in str(first)
    assert "weight" not in str(first)
    key = (await keys_of(db, {"items": [{"position": 0, **first}]}))[0][0]
    wrong = next(c["label"] for c in first["question"]["choices"] if c["label"] != key)

    # Answer wrong: the reply shows the key and the explanation, and notes the question.
    feedback = await _answer(client, learner, session["id"], 0, wrong)
    assert feedback["key"]["display"] == [key]
    assert feedback["correct"] is False
    assert feedback["explanation"]
    assert feedback["wrong_note"] == "added"
    qid = first["question"]["question_id"]

    notes = (
        await client.get("/api/v1/wrong-notes", params={"certification": CERT}, headers=learner)
    ).json()
    assert [n["question_id"] for n in notes] == [qid]
    memo = await client.put(
        f"/api/v1/wrong-notes/{qid}/memo", json={"memo": "키 개념 다시"}, headers=learner
    )
    assert memo.status_code == 204

    # A wrong answer (Again) is due again within minutes: it is in the review queue soon.
    async with db.transaction() as uow:
        await uow.session.execute(update(ReviewCard).values(due_at=utcnow() - timedelta(seconds=1)))
    due = (
        await client.get("/api/v1/reviews/due", params={"certification": CERT}, headers=learner)
    ).json()
    assert qid in [d["question_id"] for d in due]

    # Two right answers in later tries clear the note (N = 2).
    for expected in ("kept", "cleared"):
        review = await _start(client, learner, mode="wrong")
        assert review["total"] == 1
        feedback = await _answer(client, learner, review["id"], 0, key)
        assert (feedback["correct"], feedback["wrong_note"]) == (True, expected)
    assert (await client.get("/api/v1/wrong-notes", headers=learner)).json() == []
    empty = await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT, "mode": "wrong"}, headers=learner
    )
    assert empty.status_code == 409
    assert "empty" in empty.json()["error"]["message"]


async def test_bookmarks_and_new_to_me(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    session = await _start(client, learner, subject="S1", limit=3)
    question = await _question(client, learner, session["id"], 0)
    qid = question["question"]["question_id"]
    assert (await client.put(f"/api/v1/bookmarks/{qid}", headers=learner)).status_code == 204
    marked = await _start(client, learner, mode="bookmarked")
    assert marked["total"] == 1
    await _answer(client, learner, session["id"], 0, "1")
    fresh = await _start(client, learner, mode="new", subject="S1", limit=500)
    total_s1 = (await _start(client, learner, subject="S1", limit=500))["total"]
    assert fresh["total"] == total_s1 - 1
    assert (await client.delete(f"/api/v1/bookmarks/{qid}", headers=learner)).status_code == 204
    assert (await client.get("/api/v1/bookmarks", headers=learner)).json() == []


async def test_an_exam_date_brings_reviews_forward(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    session = await _start(client, learner, subject="S2", limit=2)
    right = (await _answer(client, learner, session["id"], 0, "1"))["key"]["display"][0]
    plain = await _start(client, learner, subject="S2", limit=2)
    relaxed = await _answer(client, learner, plain["id"], 0, right)

    exam_day = utc_today() + timedelta(days=3)
    put = await client.put(
        "/api/v1/learning/settings",
        json={"desired_retention": 0.9, "exam_dates": {CERT: exam_day.isoformat()}},
        headers=learner,
    )
    assert put.json()["exam_dates"] == {CERT: exam_day.isoformat()}
    again = await _start(client, learner, subject="S2", limit=2)
    paced = await _answer(client, learner, again["id"], 0, right)
    assert paced["next_review_at"] < relaxed["next_review_at"] or paced["next_review_at"] <= (
        exam_day.isoformat() + "T00:00:00+00:00"
    )
    assert paced["next_review_at"] <= exam_day.isoformat() + "T00:00:00+00:00" or (
        paced["next_review_at"].startswith(exam_day.isoformat())
    )

    bad = await client.put(
        "/api/v1/learning/settings", json={"desired_retention": 0.5}, headers=learner
    )
    assert bad.status_code == 422
