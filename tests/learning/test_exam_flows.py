"""End-to-end mock exams through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from certplatform.content import service as content
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import AnswerRecord, PracticeSession, ReviewCard, WrongNote
from certplatform.learning.scheduling import ReviewScheduler, rating_for
from tests.support.accounts import bearer
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key


async def test_fcc_technician_exam_from_start_to_graded_result(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    started = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
        headers=learner,
    )
    assert started.status_code == 201, started.text
    view = started.json()
    assert view["question_count"] == 35
    assert 3590 < view["remaining_seconds"] <= 3600
    # Exactly one question from each of the 35 groups (T1A, T1B, ...).
    async with db.transaction() as uow:
        questions = await content.current_versions(
            uow, [i["question"]["question_id"] for i in view["items"]]
        )
        externals = {
            q.id: q.external_id
            for q in await content.find_questions(
                uow, certification_code="US-FCC-TECHNICIAN", limit=1000
            )
        }
    groups = Counter(externals[qid][:3] for qid in questions)
    assert len(groups) == 35
    assert set(groups.values()) == {1}

    keys = await keys_of(db, view)
    items = view["items"]
    for item in items[:26]:
        ack = await save(client, learner, view["id"], item["position"], keys[item["position"]][0])
        assert ack.status_code == 200, ack.text
        assert ack.json()["applied"] is True
    for item in items[26:30]:
        ack = await save(
            client, learner, view["id"], item["position"], wrong_key(item, keys[item["position"]])
        )
    assert ack.json()["unanswered_count"] == 5
    unanswered = (
        await client.get(f"/api/v1/attempts/{view['id']}/unanswered", headers=learner)
    ).json()
    assert unanswered["count"] == 5

    result = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["correct_count"], body["passed"], body["unanswered_count"]) == (26, True, 5)
    assert body["reasons"] == ["합격: 정답 26개 (합격 기준 26개)"]
    assert body["reasons_en"] == ["Passed: 26 correct (26 needed)"]

    review = (await client.get(f"/api/v1/attempts/{view['id']}/review", headers=learner)).json()
    assert len(review["items"]) == 35
    first = review["items"][0]
    assert first["key_display"] == keys[first["position"]]
    assert first["correct"] is True


async def test_korean_exam_fails_on_one_subject_below_40_with_a_high_average(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    learner = await bearer(client, db)
    started = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": await blueprint_id(db, "KR-INFO-ENGINEER")},
        headers=learner,
    )
    view = started.json()
    assert view["question_count"] == 100
    assert [s["code"] for s in view["sections"]] == ["S1", "S2", "S3", "S4", "S5"]
    keys = await keys_of(db, view)
    # S3 (데이터베이스 구축): 7 of 20 right = 35 points; every other subject 100.
    seen_s3 = 0
    for item in view["items"]:
        right = keys[item["position"]]
        if item["section_code"] == "S3":
            seen_s3 += 1
            choice = right[0] if seen_s3 <= 7 else wrong_key(item, right)
        else:
            choice = right[0]
        assert (
            await save(client, learner, view["id"], item["position"], choice)
        ).status_code == 200
    result = (await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)).json()
    assert result["passed"] is False
    assert result["section_average"] == 87.0
    assert [s["percent"] for s in result["sections"]] == [100, 100, 35, 100, 100]
    assert result["reasons"] == ["데이터베이스 구축 35점 과락 (40점 미만)"]
    assert result["reasons_en"] == ["데이터베이스 구축: 35, below the section minimum of 40"]


async def test_keys_never_leave_the_server_while_the_attempt_is_open(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    learner = await bearer(client, db)
    view = (
        await client.post(
            "/api/v1/attempts",
            json={"blueprint_id": await blueprint_id(db, "KR-INFO-ENGINEER")},
            headers=learner,
        )
    ).json()
    attempt = view["id"]
    async with db.transaction() as uow:
        versions = await content.current_versions(
            uow, [i["question"]["question_id"] for i in view["items"]]
        )
    explanations = [v.content.explanation for v in versions.values()]
    replies = [json.dumps(view, ensure_ascii=False)]
    item = view["items"][0]
    for path, method, body in [
        (f"/api/v1/attempts/{attempt}", "GET", None),
        (f"/api/v1/attempts/{attempt}/unanswered", "GET", None),
        (
            f"/api/v1/attempts/{attempt}/answers/{item['position']}",
            "PUT",
            {"op_id": "x1", "op_seq": 1, "answer": {"choices": ["1"]}, "flagged": True},
        ),
        (f"/api/v1/attempts/{attempt}/events", "POST", {"kind": "focus_lost"}),
        (f"/api/v1/attempts/{attempt}/result", "GET", None),
        (f"/api/v1/attempts/{attempt}/review", "GET", None),
        ("/api/v1/attempts", "GET", None),
    ]:
        reply = await client.request(method, path, json=body, headers=learner)
        replies.append(reply.text)
    assert "result" not in replies[5] or "still open" in replies[5]
    assert "still open" in replies[6]
    for text in replies:
        for field in ("weight", "explanation", "key_display", "accepted_answers", '"key"'):
            assert field not in text, field
        for explanation in explanations:
            assert explanation not in text
        assert not re.search(r'"correct"\s*:', text)


KR = "KR-INFO-ENGINEER"
LOCKED = "This question is part of your exam in progress; practise it after you submit."
ALL_LOCKED = "Every question here is part of your exam in progress; practise them after you submit."
MEMO = "정답은 ③ (memo with the key)"


def _readable(reply: httpx.Response) -> str:
    """JSON decoded (it escapes Korean), HTML as it is."""
    if reply.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(reply.json(), ensure_ascii=False)
    return reply.text


async def test_no_route_gives_the_key_of_a_question_in_my_open_attempt(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    """Practice in every mode, order and scope, bookmarks, the wrong-answer note, the review
    queue, search, past reviews and past-paper listings, while the learner sits a paper."""
    await load(db, storage, KR)
    learner = await bearer(client, db)
    author = await bearer(client, db, "author")
    async with db.transaction() as uow:
        [paper] = await content.past_papers(uow, KR)
        everything = await content.find_questions(uow, certification_code=KR, limit=1000)
    exam_ids = {i.question_id for i in paper.items}
    explanations = {q.id: q.version.content.explanation for q in everything}
    elsewhere = {e for q, e in explanations.items() if q not in exam_ids}
    secrets = [e for q, e in explanations.items() if q in exam_ids and e and e not in elsewhere]
    assert len(secrets) > 50  # the walk has something to look for
    topic = next(q.topic_code for q in everything if q.id in exam_ids and q.topic_code)

    async def practise(spec: dict[str, object]) -> httpx.Response:
        body = {"certification": KR, "limit": 500, **spec}
        return await client.post("/api/v1/practice/sessions", json=body, headers=learner)

    # Before the exam: a practice run over everything, a submitted sitting of the same
    # paper (its review shows the keys), bookmarks, notes with the key in the memo, and
    # review cards that are due: every way back to these questions.
    early = (await practise({})).json()["id"]
    first = await client.post("/api/v1/attempts", json={"paper_id": paper.id}, headers=learner)
    await client.post(f"/api/v1/attempts/{first.json()['id']}/submit", headers=learner)
    for qid in exam_ids:
        assert (await client.put(f"/api/v1/bookmarks/{qid}", headers=learner)).status_code == 204
    async with db.transaction() as uow:
        run = await uow.session.get(PracticeSession, early)
        assert run is not None
        user_id, early_ids = run.user_id, run.question_ids
        state, _ = ReviewScheduler(0.9, None).review(
            None, rating_for(False, 1000, 60_000), utcnow()
        )
        for qid in exam_ids:
            uow.session.add(
                WrongNote(
                    user_id=user_id,
                    question_id=qid,
                    certification_code=KR,
                    memo=MEMO,
                    wrong_count=1,
                    streak=0,
                    last_wrong_at=utcnow(),
                )
            )
            uow.session.add(
                ReviewCard(
                    user_id=user_id,
                    question_id=qid,
                    certification_code=KR,
                    state=dict(state),
                    due_at=utcnow() - timedelta(days=1),
                    reviews=1,
                )
            )
    locked_at = next(n for n, q in enumerate(early_ids) if q in exam_ids)

    sitting = await client.post("/api/v1/attempts", json={"paper_id": paper.id}, headers=learner)
    assert sitting.status_code == 201
    replies: dict[str, httpx.Response] = {}

    # Practice: every mode, in both orders, over the certification, a subject and a topic.
    subject = paper.items[0].section_code
    for mode in ("all", "new", "wrong", "bookmarked", "due"):
        for order in ("sequential", "random"):
            for scope in ({}, {"subject": subject}, {"subject": subject, "topic": topic}):
                name = f"start {mode} {order} {scope}"
                started = await practise({"mode": mode, "order": order, **scope})
                replies[name] = started
                if mode in ("wrong", "bookmarked", "due"):
                    assert started.status_code == 409, name  # only exam questions there
                    assert started.json()["error"]["message"] == ALL_LOCKED, name
                    continue
                if started.status_code == 409:  # every question of the scope is in the exam
                    assert started.json()["error"]["message"] == ALL_LOCKED, name
                    continue
                assert started.status_code == 201, name
                session = started.json()
                for n in range(session["total"]):
                    shown = await client.get(
                        f"/api/v1/practice/sessions/{session['id']}/questions/{n}", headers=learner
                    )
                    assert shown.status_code == 200, name
                    assert shown.json()["question"]["question_id"] not in exam_ids, name

    # The run started before the exam still holds its questions: they are refused.
    base = f"/api/v1/practice/sessions/{early}/questions/{locked_at}"
    replies["early question"] = await client.get(base, headers=learner)
    replies["early answer"] = await client.post(
        f"{base}/answer", json={"answer": {"choices": ["1"]}}, headers=learner
    )
    for name in ("early question", "early answer"):
        assert replies[name].status_code == 409, name
        assert replies[name].json()["error"]["message"] == LOCKED, name
    async with db.transaction() as uow:
        answered = await uow.session.scalar(select(func.count()).select_from(AnswerRecord))
    assert answered == 0  # the refused answer changed nothing

    # Remediation lists, search, the review of the earlier sitting, pages.
    for path in ("/api/v1/bookmarks", "/api/v1/wrong-notes", "/api/v1/reviews/due"):
        replies[path] = await client.get(path, headers=learner)
        assert replies[path].status_code == 200, path
    assert replies["/api/v1/wrong-notes"].json() == []  # the notes wait for the submit
    some = next(iter(exam_ids))
    for path in (f"/api/v1/questions?q={topic}", f"/api/v1/questions/{some}"):
        replies[path] = await client.get(path, headers=learner)
        assert replies[path].status_code == 403, path
    review = f"/api/v1/attempts/{first.json()['id']}/review"
    replies[review] = await client.get(review, headers=learner)
    assert replies[review].status_code == 409
    page = f"/practice/{early}/{locked_at}"
    replies[page] = await client.get(page, headers=learner)
    assert replies[page].status_code == 409
    assert "진행 중인 시험에 포함된 문제입니다" in replies[page].text
    for path in (
        "/notes",
        "/bookmarks",
        "/reviews",
        f"/certifications/{KR}",
        f"/practice/{early}/done",
    ):
        replies[path] = await client.get(path, headers=learner)
        assert replies[path].status_code == 200, path
    empty = f"/practice/start?certification={KR}&mode=bookmarked"
    replies[empty] = await client.get(empty, headers=learner)
    assert "모두 진행 중인 시험에 포함되어 있습니다" in replies[empty].text
    for path in (f"/api/v1/certifications/{KR}/past-papers", "/api/v1/certifications/{KR}"):
        replies[f"anonymous {path}"] = await client.get(path.format(KR=KR))

    for name, reply in replies.items():
        text = _readable(reply)
        assert MEMO not in text, name
        assert not [e[:30] for e in secrets if e in text], name
        if name.startswith("anonymous"):  # which questions a paper holds is not public
            assert not [q for q in exam_ids if q in text], name
    [summary] = replies[f"anonymous /api/v1/certifications/{KR}/past-papers"].json()
    assert summary["question_count"] == 100
    assert [s["question_count"] for s in summary["sections"]] == [20] * 5
    assert "items" not in summary
    forms = await client.get(f"/api/v1/certifications/{KR}/past-papers", headers=author)
    assert {i["question_id"] for i in forms.json()[0]["items"]} == exam_ids

    # After the submit everything opens again, and the detector sees a key when one comes.
    await client.post(f"/api/v1/attempts/{sitting.json()['id']}/submit", headers=learner)
    session = (await practise({"mode": "bookmarked"})).json()
    feedback = await client.post(
        f"/api/v1/practice/sessions/{session['id']}/questions/0/answer",
        json={"answer": {"choices": ["1"]}},
        headers=learner,
    )
    assert feedback.status_code == 200
    assert any(e in _readable(feedback) for e in secrets)
    notes = (await client.get("/api/v1/wrong-notes", headers=learner)).json()
    assert {n["question_id"] for n in notes} == exam_ids


async def test_saves_are_idempotent_and_the_last_operation_wins(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    view = (
        await client.post(
            "/api/v1/attempts",
            json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
            headers=learner,
        )
    ).json()
    attempt, position = view["id"], 1
    newer = await save(client, learner, attempt, position, "3", seq=5, op="b")
    older = await save(client, learner, attempt, position, "1", seq=2, op="a")  # arrives late
    again = await save(client, learner, attempt, position, "1", seq=2, op="a")  # retried
    assert (newer.json()["applied"], older.json()["applied"], again.json()["applied"]) == (
        True,
        False,
        False,
    )
    current = (await client.get(f"/api/v1/attempts/{attempt}", headers=learner)).json()
    assert current["items"][0]["answer"]["choices"] == ["3"]

    bad = await save(client, learner, attempt, position, "9", seq=6, op="c")
    assert bad.status_code == 422
    other = await bearer(client, db, "author")
    assert (await client.get(f"/api/v1/attempts/{attempt}", headers=other)).status_code == 404


async def test_answers_after_the_deadline_are_refused_and_the_sweeper_grades(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from certplatform.learning.models import Attempt
    from certplatform.learning.tasks import sweep_deadlines

    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    view = (
        await client.post(
            "/api/v1/attempts",
            json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
            headers=learner,
        )
    ).json()
    keys = await keys_of(db, view)
    assert (await save(client, learner, view["id"], 1, keys[1][0])).status_code == 200
    # The deadline passed a minute ago (beyond the 5 s grace).
    async with db.transaction() as uow:
        from certplatform.kernel.db import utcnow

        await uow.session.execute(
            update(Attempt)
            .where(Attempt.id == view["id"])
            .values(deadline_at=utcnow() - timedelta(minutes=1))
        )
    late = await save(client, learner, view["id"], 2, keys[2][0])
    assert late.status_code == 409
    assert "Time is up" in late.json()["error"]["message"]

    assert await sweep_deadlines(db, grace_seconds=5) == 1
    assert await sweep_deadlines(db, grace_seconds=5) == 0
    result = (await client.get(f"/api/v1/attempts/{view['id']}/result", headers=learner)).json()
    assert (result["submitted_by"], result["correct_count"], result["passed"]) == (
        "deadline",
        1,
        False,
    )


async def test_timed_sections_close_on_their_own_deadline(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from certplatform.content.contracts import BlueprintSpec, PassMode, PassRule, SectionSpec
    from certplatform.kernel.db import utcnow
    from certplatform.learning.models import Attempt

    await load(db, storage, "KR-INFO-ENGINEER")
    async with db.transaction() as uow:
        timed = await content.save_blueprint(
            uow,
            "KR-INFO-ENGINEER",
            BlueprintSpec(
                code="TIMED",
                name="과목별 시간제",
                time_limit_minutes=20,
                pass_rule=PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40),
                sections=(
                    SectionSpec(
                        code="S1",
                        name="소프트웨어 설계",
                        subject_code="S1",
                        question_count=2,
                        time_limit_minutes=10,
                    ),
                    SectionSpec(
                        code="S2",
                        name="소프트웨어 개발",
                        subject_code="S2",
                        question_count=2,
                        time_limit_minutes=10,
                    ),
                ),
            ),
            None,
        )
    learner = await bearer(client, db)
    view = (
        await client.post("/api/v1/attempts", json={"blueprint_id": timed.id}, headers=learner)
    ).json()
    first, second = view["sections"]
    assert first["remaining_seconds"] == pytest.approx(600, abs=5)
    assert second["remaining_seconds"] == pytest.approx(1200, abs=5)
    # Section S1's time ran out a minute ago; S2 is still open.
    sections = [
        {**s, "deadline_at": (utcnow() - timedelta(minutes=1)).isoformat()}
        if s["code"] == "S1"
        else {**s, "deadline_at": s["deadline_at"]}
        for s in view["sections"]
    ]
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Attempt)
            .where(Attempt.id == view["id"])
            .values(sections=[{k: s[k] for k in ("code", "name", "deadline_at")} for s in sections])
        )
    by_section = {i["section_code"]: i["position"] for i in view["items"]}
    closed = await save(client, learner, view["id"], by_section["S1"], "1")
    assert closed.status_code == 409
    assert "소프트웨어 설계" in closed.json()["error"]["message"]
    assert (await save(client, learner, view["id"], by_section["S2"], "1")).status_code == 200


async def test_integrity_events_are_stored_and_audited(
    app: object, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    from sqlalchemy import select

    from certplatform.audit import service as audit
    from certplatform.learning.models import AttemptEvent
    from tests.support.events import relay_events

    await load(db, storage, "US-FCC-TECHNICIAN")
    learner = await bearer(client, db)
    view = (
        await client.post(
            "/api/v1/attempts",
            json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
            headers=learner,
        )
    ).json()
    for kind in ("focus_lost", "page_hidden", "paste"):
        reply = await client.post(
            f"/api/v1/attempts/{view['id']}/events", json={"kind": kind}, headers=learner
        )
        assert reply.status_code == 204
    bad = await client.post(
        f"/api/v1/attempts/{view['id']}/events", json={"kind": "teleport"}, headers=learner
    )
    assert bad.status_code == 422
    await relay_events(app)  # type: ignore[arg-type]
    async with db.transaction() as uow:
        stored = (await uow.session.scalars(select(AttemptEvent.kind))).all()
        entries = await audit.list_entries(uow, action_prefix="learning.attempt.integrity")
    assert sorted(stored) == ["focus_lost", "page_hidden", "paste"]
    assert sorted(e.data["kind"] for e in entries) == ["focus_lost", "page_hidden", "paste"]
    assert {e.subject_id for e in entries} == {view["id"]}
