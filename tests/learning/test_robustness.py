"""Robustness: concurrent submits grade once, acknowledged answers survive SIGKILL,
a second device resumes the same attempt, regrading after a key fix, a practice answer
racing an exam start."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, func, select

from certplatform.content import service as content
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, new_id
from certplatform.kernel.errors import Conflict
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning import service as learning
from certplatform.learning.contracts import PracticeStart, ResponseIn
from certplatform.learning.models import AnswerRecord, PracticeSession
from tests.support.accounts import PASSWORD, bearer, make_user
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key
from tests.support.server import free_port, serve


async def _start(
    client: httpx.AsyncClient, headers: dict[str, str], db: Database, cert: str
) -> dict:  # type: ignore[type-arg]
    reply = await client.post(
        "/api/v1/attempts", json={"blueprint_id": await blueprint_id(db, cert)}, headers=headers
    )
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_concurrent_submits_grade_once(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    view = await _start(client, learner, db, "US-FCC-TECHNICIAN")
    keys = await keys_of(db, view)
    for item in view["items"][:10]:
        await save(client, learner, view["id"], item["position"], keys[item["position"]][0])
    replies = await asyncio.gather(
        *[client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner) for _ in range(4)]
    )
    assert {r.status_code for r in replies} == {200}
    assert {r.json()["correct_count"] for r in replies} == {10}
    assert len({r.json()["submitted_at"] for r in replies}) == 1
    async with db.transaction() as uow:
        submitted = await uow.session.scalar(
            select(func.count()).where(OutboxEvent.topic.like("%attempt.submitted%"))
        )
        records = await uow.session.scalar(
            select(func.count()).where(AnswerRecord.context == "exam")
        )
    assert (submitted, records) == (1, 10)


async def test_a_second_device_continues_the_same_attempt(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    email = await make_user(db, "learner", "two-devices@example.com")
    tokens = []
    for _ in range(2):
        reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        tokens.append({"authorization": f"Bearer {reply.json()['access_token']}"})
    phone, laptop = tokens
    view = await _start(client, phone, db, "US-FCC-TECHNICIAN")
    await save(client, phone, view["id"], 3, "2")
    resumed = (await client.get(f"/api/v1/attempts/{view['id']}", headers=laptop)).json()
    assert resumed["items"][2]["answer"]["choices"] == ["2"]
    assert resumed["deadline_at"] == view["deadline_at"]
    assert (await client.get("/api/v1/attempts", headers=laptop)).json()[0]["id"] == view["id"]


async def test_regrade_after_a_key_fix_dry_run_then_apply(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    admin = await bearer(client, db, "admin")
    author = await bearer(client, db, "author")
    view = await _start(client, learner, db, "US-FCC-TECHNICIAN")
    keys = await keys_of(db, view)
    # 25 right (fail by one), the first question answered with a wrong choice.
    first = view["items"][0]
    chosen = wrong_key(first, keys[1])
    await save(client, learner, view["id"], 1, chosen)
    for item in view["items"][1:26]:
        await save(client, learner, view["id"], item["position"], keys[item["position"]][0])
    before = (await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)).json()
    assert (before["correct_count"], before["passed"]) == (25, False)

    # The author finds the key was wrong: the learner's choice is the right one.
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
    assert edit.json()["version"]["number"] == 2, edit.text
    # The fix is a draft until published (ADR 0026); regrades grade by what is published.
    published = await client.post(
        "/api/v1/questions/status",
        json={"question_ids": [qid], "status": "published"},
        headers=author,
    )
    assert published.json()[0]["published_version"] == 2, published.text

    refused = await client.post("/api/v1/regrade", json={"question_id": qid}, headers=author)
    assert refused.status_code == 403
    dry = (await client.post("/api/v1/regrade", json={"question_id": qid}, headers=admin)).json()
    assert dry["applied"] is False
    assert [(c["old_passed"], c["new_passed"]) for c in dry["changes"]] == [(False, True)]
    unchanged = (await client.get(f"/api/v1/attempts/{view['id']}/result", headers=learner)).json()
    assert unchanged["passed"] is False

    applied = (
        await client.post(
            "/api/v1/regrade", json={"question_id": qid, "apply": True}, headers=admin
        )
    ).json()
    assert applied["applied"] is True
    after = (await client.get(f"/api/v1/attempts/{view['id']}/result", headers=learner)).json()
    assert (after["correct_count"], after["passed"]) == (26, True)
    assert after["regraded_at"] is not None
    again = (await client.post("/api/v1/regrade", json={"question_id": qid}, headers=admin)).json()
    assert again["changes"] == []
    # The review shows the key that graded the answer: the learner's choice, now right.
    review = (await client.get(f"/api/v1/attempts/{view['id']}/review", headers=learner)).json()
    assert (review["items"][0]["key_display"], review["items"][0]["correct"]) == ([chosen], True)

    # A later regrade of another question keeps the first one graded by its fixed key.
    second = (
        await client.get(
            f"/api/v1/questions/{view['items'][1]['question']['question_id']}", headers=author
        )
    ).json()
    reworded = {**second["version"]["content"], "explanation": "해설 보완"}
    await client.put(
        f"/api/v1/questions/{second['id']}",
        json={
            "content": reworded,
            "external_id": second["external_id"],
            "subject": second["subject_code"],
            "topic": second["topic_code"],
            "law_refs": second["version"]["law_refs"],
            "source": second["version"]["source"],
        },
        headers=author,
    )
    await client.post(
        "/api/v1/regrade", json={"question_id": second["id"], "apply": True}, headers=admin
    )
    final = (await client.get(f"/api/v1/attempts/{view['id']}/result", headers=learner)).json()
    assert (final["correct_count"], final["passed"]) == (26, True)


@pytest.mark.slow
async def test_acknowledged_answers_survive_sigkill(
    db: Database, storage: LocalStorage, database_url: str, tmp_path: Path
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    await make_user(db, "learner", "crash@example.com")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "MEDIA_DIR": str(tmp_path),
        "SWEEPER_INTERVAL": "0",
    }
    port = free_port()
    server = serve(env, port, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            token = await http.post(
                "/api/v1/auth/token", json={"email": "crash@example.com", "password": PASSWORD}
            )
            headers = {"authorization": f"Bearer {token.json()['access_token']}"}
            view = await _start(http, headers, db, "US-FCC-TECHNICIAN")
            acked = {}
            for item in view["items"][:20]:
                label = item["question"]["choices"][item["position"] % 4]["label"]
                reply = await save(http, headers, view["id"], item["position"], label)
                assert reply.status_code == 200
                acked[item["position"]] = label
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    server = serve(env, port, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            resumed = (await http.get(f"/api/v1/attempts/{view['id']}", headers=headers)).json()
    finally:
        server.terminate()
        server.wait(timeout=10)
    answers = {i["position"]: i["answer"]["choices"][0] for i in resumed["items"] if i["answer"]}
    assert answers == acked
    assert resumed["deadline_at"] == view["deadline_at"]
    assert resumed["status"] == "open"


async def test_a_practice_answer_racing_an_exam_start_gets_no_key_of_the_exam(
    db: Database, storage: LocalStorage
) -> None:
    """The answer checks the lock while the exam's transaction is still uncommitted: it
    must wait for that transaction and then be refused, not grade from a stale view."""
    await load(db, storage, "KR-INFO-ENGINEER")
    me = Principal(new_id(), "racer@example.com", "learner", "Racer", "bearer", "s")
    async with db.transaction() as uow:
        [paper] = await content.past_papers(uow, "KR-INFO-ENGINEER")
        spec = PracticeStart(certification="KR-INFO-ENGINEER", limit=500)
        run = await learning.start_practice(uow, me, spec)
        row = await uow.session.get(PracticeSession, run.id)
        assert row is not None
    exam_ids = {i.question_id for i in paper.items}
    position = next(n for n, q in enumerate(row.question_ids) if q in exam_ids)

    async def answer() -> object:
        async with db.transaction() as uow:
            return await learning.answer_practice(
                uow, me, run.id, position, ResponseIn(choices=("1",)), 0, clear_after=2
            )

    # The racer has reached the database once it sends the learner lock (PostgreSQL's
    # advisory lock, SQLite's write lock) or, without one, its first write; or it is done.
    reached = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if any(m in statement for m in ("pg_advisory_xact_lock", "WHERE 0 = 1", "INSERT")):
            loop.call_soon_threadsafe(reached.set)

    async with db.transaction() as exam:
        await learning.start_attempt(exam, me, paper_id=paper.id)
        event.listen(db.engine.sync_engine, "before_cursor_execute", watch)
        try:
            racer = asyncio.create_task(answer())
            racer.add_done_callback(lambda _: reached.set())
            await reached.wait()
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", watch)
    with pytest.raises(Conflict, match="part of your exam in progress"):
        await racer
    async with db.transaction() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(AnswerRecord)) == 0
