"""The learner's week in the services: a practice run's summary and its retry, practising an
exam's wrong answers, the detailed wrong-answer note, and the certifications I study."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from certplatform.content import service as content
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database
from certplatform.kernel.errors import Conflict
from certplatform.kernel.storage import LocalStorage
from certplatform.learning import service as learning
from certplatform.learning.models import PracticeSession
from tests.support.accounts import bearer
from tests.support.exams import keys_of, load, save, wrong_key

CERT = "KR-INFO-ENGINEER"


async def _principal(db: Database, client: httpx.AsyncClient) -> Principal:
    async with db.transaction() as uow:
        user = await identity.find_user(uow, f"learner-{id(client)}@example.com")
    assert user is not None
    return Principal(
        user_id=user.id,
        email=user.email,
        role="learner",
        display_name=user.display_name,
        via="bearer",
        session_id="test",
    )


async def _practise(
    client: httpx.AsyncClient, learner: dict[str, str], db: Database, sid: str, n: int, right: bool
) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/practice/sessions/{sid}/questions/{n}", headers=learner)
    shown = reply.json()
    key = (await keys_of(db, {"items": [{"position": n, **shown}]}))[n]
    label = key[0] if right else wrong_key(shown, key)
    answered = await client.post(
        f"/api/v1/practice/sessions/{sid}/questions/{n}/answer",
        json={"answer": {"choices": [label]}, "elapsed_ms": 4000 + n},
        headers=learner,
    )
    assert answered.status_code == 200, answered.text
    return {"question_id": shown["question"]["question_id"], "label": label, "key": key}


async def test_a_run_summary_counts_first_answers_and_retries_exactly_the_wrong_ones(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    user = await _principal(db, client)
    started = await client.post(
        "/api/v1/practice/sessions",
        json={"certification": CERT, "subject": "S3", "limit": 6},
        headers=learner,
    )
    sid = started.json()["id"]
    a0 = await _practise(client, learner, db, sid, 0, right=True)
    a1 = await _practise(client, learner, db, sid, 1, right=False)
    a3 = await _practise(client, learner, db, sid, 3, right=False)
    await _practise(client, learner, db, sid, 1, right=True)  # a second try after the key

    async with db.transaction() as uow:
        summary = await learning.practice_summary(uow, user, sid)
        assert [a.position for a in summary.answers] == [0, 1, 3]
        assert [a.correct for a in summary.answers] == [True, False, False]
        assert summary.answers[1].your_answer is not None
        assert summary.answers[1].your_answer.choices == (a1["label"],)
        assert summary.answers[0].question_id == a0["question_id"]
        assert (summary.answered, summary.correct) == (3, 1)
        assert summary.elapsed_ms == 4000 + 4001 + 4003
        assert summary.session.total == 6

        retry = await learning.retry_wrong_of_run(uow, user, sid)
        run = await uow.session.get(PracticeSession, retry.id)
        assert run is not None
        assert run.question_ids == [a1["question_id"], a3["question_id"]]

    # A run of only right answers has nothing to retry: a 409 with a reason, no new run.
    again = (
        await client.post(
            "/api/v1/practice/sessions",
            json={"certification": CERT, "subject": "S3", "limit": 1},
            headers=learner,
        )
    ).json()["id"]
    await _practise(client, learner, db, again, 0, right=True)
    async with db.transaction() as uow:
        with pytest.raises(Conflict):
            await learning.retry_wrong_of_run(uow, user, again)


async def test_an_exam_is_practised_over_its_wrong_answers_after_submission_only(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    user = await _principal(db, client)
    async with db.transaction() as uow:
        [paper] = await content.past_papers(uow, CERT)
    started = await client.post("/api/v1/attempts", json={"paper_id": paper.id}, headers=learner)
    view = started.json()
    keys = await keys_of(db, view)
    items = view["items"]
    for n, item in enumerate(items[:4]):
        choice = (
            keys[item["position"]][0] if n in (0, 3) else wrong_key(item, keys[item["position"]])
        )
        assert (
            await save(client, learner, view["id"], item["position"], choice)
        ).status_code == 200
    async with db.transaction() as uow:
        with pytest.raises(Conflict):
            await learning.retry_wrong_of_attempt(uow, user, view["id"])
    submitted = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)
    assert submitted.status_code == 200, submitted.text
    async with db.transaction() as uow:
        retry = await learning.retry_wrong_of_attempt(uow, user, view["id"])
        run = await uow.session.get(PracticeSession, retry.id)
        assert run is not None
        assert run.question_ids == [
            items[1]["question"]["question_id"],
            items[2]["question"]["question_id"],
        ]
        assert run.certification_code == CERT

    # The note shows the exam answer (by its text: the exam shuffled the choices), the key,
    # and the explanation; while another sitting of the paper is open, none of it.
    wrong_item = items[1]
    qid = wrong_item["question"]["question_id"]
    mine_text = next(
        c["text"]
        for c in wrong_item["question"]["choices"]
        if c["label"] == wrong_key(wrong_item, keys[wrong_item["position"]])
    )
    async with db.transaction() as uow:
        details = {
            d.question_id: d for d in await learning.wrong_note_details(uow, user, CERT, None)
        }
        note = details[qid]
        assert note.your_answer is not None
        [label] = note.your_answer.choices
        assert next(c.text for c in note.question.choices if c.label == label) == mine_text
        assert note.key_display
        assert label not in note.key_display
        assert note.explanation
        subject = note.subject
        assert subject
        assert qid in {
            d.question_id for d in await learning.wrong_note_details(uow, user, CERT, subject)
        }
        other = {d.subject for d in details.values()} - {subject}
        if other:
            narrowed = await learning.wrong_note_details(uow, user, None, other.pop())
            assert qid not in {d.question_id for d in narrowed}
    sitting = await client.post("/api/v1/attempts", json={"paper_id": paper.id}, headers=learner)
    assert sitting.status_code == 201
    async with db.transaction() as uow:
        assert qid not in {
            d.question_id for d in await learning.wrong_note_details(uow, user, CERT, None)
        }


async def test_the_note_shows_my_practice_answer_and_filters_by_subject(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    user = await _principal(db, client)
    sid = (
        await client.post(
            "/api/v1/practice/sessions",
            json={"certification": CERT, "subject": "S3", "limit": 2},
            headers=learner,
        )
    ).json()["id"]
    answered = await _practise(client, learner, db, sid, 0, right=False)
    async with db.transaction() as uow:
        [note] = await learning.wrong_note_details(uow, user, CERT, "S3")
        assert note.question_id == answered["question_id"]
        assert note.your_answer is not None
        assert note.your_answer.choices == (answered["label"],)
        assert list(note.key_display) == answered["key"]
        assert note.explanation
        assert note.subject == "S3"
        assert await learning.wrong_note_details(uow, user, CERT, "S1") == []


async def test_the_certifications_i_study_come_from_what_i_do(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    learner = await bearer(client, db)
    user = await _principal(db, client)
    async with db.transaction() as uow:
        assert await learning.studied_certifications(uow, user) == set()
    await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT, "limit": 1}, headers=learner
    )
    async with db.transaction() as uow:
        assert await learning.studied_certifications(uow, user) == {CERT}
