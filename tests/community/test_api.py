"""Discussion threads and error reports through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection, event, func, select

from certplatform.audit.models import AuditEntry
from certplatform.community.models import CommentVote, ErrorReport
from certplatform.content import service as content
from certplatform.kernel.db import Database, new_id
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import ReviewCard
from certplatform.web.markdown import render
from tests.support.accounts import PASSWORD, bearer, make_user
from tests.support.community import CERT, bank, comment, start_paper
from tests.support.content import choice_question
from tests.support.events import relay_events
from tests.support.exams import keys_of, save, wrong_key

HOSTILE = (
    '<script>alert("x")</script> **bold** <img src=x onerror=alert(1)> [link](javascript:alert(2))'
)


async def _author(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    return await bearer(client, db, "author")


async def _second_learner(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    """Another learner, with an address of its own."""
    email = await make_user(db, "learner", f"learner-{new_id()}@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


async def test_thread_is_closed_during_an_open_attempt_and_opens_after_the_submit(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    other = await _second_learner(client, db)
    posted = (await comment(client, other, questions.in_paper, "정답은 I×R (hint-4711)")).json()
    attempt = await start_paper(client, learner, questions.paper)

    thread = f"/api/v1/questions/{questions.in_paper}/discussion"
    for reply in (
        await client.get(thread, headers=learner),
        await comment(client, learner, questions.in_paper, "hint?"),
        await client.get(f"/api/v1/comments/{posted['id']}", headers=learner),
        await client.put(
            f"/api/v1/comments/{posted['id']}/vote", json={"value": 1}, headers=learner
        ),
        await client.post(
            f"/api/v1/questions/{questions.in_paper}/error-reports",
            json={"reason": "typo"},
            headers=learner,
        ),
        await client.get(f"/questions/{questions.in_paper}/discussion", headers=learner),
    ):
        assert reply.status_code == 409, reply.text
        assert "hint-4711" not in reply.text
    # A question that is not in the open attempt stays open to discussion.
    assert (await comment(client, learner, questions.elsewhere, "ok")).status_code == 201

    submitted = await client.post(f"/api/v1/attempts/{attempt}/submit", headers=learner)
    assert submitted.status_code == 200
    opened = await client.get(thread, headers=learner)
    assert opened.status_code == 200
    assert [c["body"] for c in opened.json()["comments"]] == ["정답은 I×R (hint-4711)"]
    assert (await comment(client, learner, questions.in_paper, "이해했습니다")).status_code == 201


async def test_markdown_with_raw_html_is_shown_as_text(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    reply = await comment(client, learner, questions.elsewhere, HOSTILE)
    assert reply.status_code == 201
    assert reply.json()["body"] == HOSTILE  # the API keeps the Markdown source
    html = str(render(HOSTILE))
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in html
    assert 'href="javascript' not in html
    page = await client.get(f"/questions/{questions.elsewhere}/discussion", headers=learner)
    assert page.status_code == 200
    assert "&lt;script&gt;alert" in page.text
    assert '<script>alert("x")' not in page.text
    assert "<img src=x" not in page.text


async def test_one_vote_per_user_and_comment(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    writer = await bearer(client, db)
    voter = await _second_learner(client, db)
    author = await _author(client, db)
    cid = (await comment(client, writer, questions.elsewhere, "answer")).json()["id"]
    url = f"/api/v1/comments/{cid}/vote"

    replies = await asyncio.gather(
        *(client.put(url, json={"value": 1}, headers=voter) for _ in range(4))
    )
    assert {r.status_code for r in replies} == {200}
    assert replies[-1].json()["score"] == 1
    down = await client.put(url, json={"value": -1}, headers=voter)
    assert (down.json()["score"], down.json()["my_vote"]) == (-1, -1)
    assert (await client.put(url, json={"value": 1}, headers=author)).json()["score"] == 0
    assert (await client.put(url, json={"value": 0}, headers=voter)).json()["score"] == 1
    own = await client.put(url, json={"value": 1}, headers=writer)
    assert own.status_code == 403
    bad = await client.put(url, json={"value": 5}, headers=voter)
    assert bad.status_code == 422
    async with db.transaction() as uow:
        rows = await uow.session.scalar(
            select(func.count()).select_from(CommentVote).where(CommentVote.comment_id == cid)
        )
    assert rows == 1


async def test_only_authors_and_admins_accept_and_moderate(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    reader = await _second_learner(client, db)
    author = await _author(client, db)
    first = (await comment(client, learner, questions.elsewhere, "one")).json()["id"]
    second = (await comment(client, learner, questions.elsewhere, "two")).json()["id"]

    refused = await client.put(f"/api/v1/comments/{first}/accepted", headers=learner)
    assert refused.status_code == 403
    refused = await client.put(
        f"/api/v1/comments/{first}/moderation", json={"hidden": True}, headers=learner
    )
    assert refused.status_code == 403
    assert (await client.put(f"/api/v1/comments/{first}/accepted", headers=author)).json()[
        "accepted"
    ]
    await client.put(f"/api/v1/comments/{second}/accepted", headers=author)
    thread = f"/api/v1/questions/{questions.elsewhere}/discussion"
    accepted = {
        c["id"]: c["accepted"]
        for c in (await client.get(thread, headers=reader)).json()["comments"]
    }
    assert accepted == {first: False, second: True}

    hidden = await client.put(
        f"/api/v1/comments/{first}/moderation", json={"hidden": True}, headers=author
    )
    assert hidden.status_code == 200
    seen = {c["id"]: c for c in (await client.get(thread, headers=reader)).json()["comments"]}
    assert seen[first]["hidden"]
    assert seen[first]["body"] == ""
    assert seen[first]["abuse_reports"] is None
    mine = {c["id"]: c for c in (await client.get(thread, headers=learner)).json()["comments"]}
    assert mine[first]["body"] == "one"  # the writer still sees what was hidden
    await client.put(f"/api/v1/comments/{first}/moderation", json={"hidden": False}, headers=author)
    seen = {c["id"]: c for c in (await client.get(thread, headers=reader)).json()["comments"]}
    assert (seen[first]["body"], seen[first]["hidden"]) == ("one", False)


async def test_only_the_writer_edits_or_deletes_and_a_deleted_comment_keeps_its_place(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    writer = await bearer(client, db)
    other = await _second_learner(client, db)
    author = await _author(client, db)
    cid = (await comment(client, writer, questions.elsewhere, "first draft")).json()["id"]
    url = f"/api/v1/comments/{cid}"

    for headers in (other, author):
        assert (
            await client.patch(url, json={"body": "mine now"}, headers=headers)
        ).status_code == 403
        assert (await client.delete(url, headers=headers)).status_code == 403
    edited = await client.patch(url, json={"body": "second draft"}, headers=writer)
    assert edited.status_code == 200
    assert edited.json()["body"] == "second draft"
    assert edited.json()["edited_at"]

    assert (await client.delete(url, headers=writer)).status_code == 204
    shown = (await client.get(url, headers=other)).json()
    assert (shown["deleted"], shown["body"]) == (True, "")
    again = await client.patch(url, json={"body": "back"}, headers=writer)
    assert again.status_code == 409
    assert (await client.delete(url, headers=writer)).status_code == 409


async def test_abuse_reports_count_once_per_user_and_moderators_see_them(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    writer = await bearer(client, db)
    other = await _second_learner(client, db)
    author = await _author(client, db)
    cid = (await comment(client, writer, questions.elsewhere, "spam spam")).json()["id"]
    url = f"/api/v1/comments/{cid}/abuse-reports"
    for _ in range(2):
        assert (await client.post(url, json={"reason": "spam"}, headers=other)).status_code == 204
    assert (await client.post(url, json={}, headers=writer)).status_code == 409
    assert (await client.get(f"/api/v1/comments/{cid}", headers=author)).json()[
        "abuse_reports"
    ] == 1


async def test_comments_are_bounded_and_rate_limited(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    for body in ("", "   \n", "x" * 5001):
        reply = await comment(client, learner, questions.elsewhere, body)
        assert reply.status_code == 422, body[:10]
    assert (await comment(client, learner, questions.elsewhere, "x" * 5000)).status_code == 201
    for n in range(9):
        assert (await comment(client, learner, questions.elsewhere, f"c{n}")).status_code == 201
    limited = await comment(client, learner, questions.elsewhere, "one too many")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    thread = await client.get(
        f"/api/v1/questions/{questions.elsewhere}/discussion", headers=learner
    )
    assert len(thread.json()["comments"]) == 10
    # Someone else is not slowed down by this learner.
    other = await _second_learner(client, db)
    assert (await comment(client, other, questions.elsewhere, "hi")).status_code == 201

    report = f"/api/v1/questions/{questions.elsewhere}/error-reports"
    for body in ({"reason": "nonsense"}, {"reason": "typo", "note": "n" * 1001}, {}):
        assert (await client.post(report, json=body, headers=learner)).status_code == 422


async def test_learners_cannot_discuss_unpublished_questions(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await bank(db, storage)
    async with db.transaction() as uow:
        draft = await content.create_question(
            uow, storage, CERT, choice_question("draft stem", external_id="D1"), None
        )
    learner = await bearer(client, db)
    author = await _author(client, db)
    url = f"/api/v1/questions/{draft.id}/discussion"
    assert (await client.get(url, headers=learner)).status_code == 404
    assert (await client.get(url, headers=author)).status_code == 200
    assert (
        await client.get("/api/v1/questions/nope/discussion", headers=learner)
    ).status_code == 404


async def test_error_report_is_queued_then_closed_by_the_fix_and_the_reporter_told(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await bank(db, storage)
    learner = await bearer(client, db)
    author = await _author(client, db)
    # The learner practises the question first: it gets an FSRS review card.
    run = await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT}, headers=learner
    )
    session = run.json()["id"]
    shown = (
        await client.get(f"/api/v1/practice/sessions/{session}/questions/0", headers=learner)
    ).json()
    answered = await client.post(
        f"/api/v1/practice/sessions/{session}/questions/0/answer",
        json={
            "answer": {"choices": [shown["question"]["choices"][1]["label"]]},
            "elapsed_ms": 4000,
        },
        headers=learner,
    )
    assert answered.status_code == 200, answered.text
    qid = shown["question"]["question_id"]
    async with db.transaction() as uow:
        [card] = (await uow.session.scalars(select(ReviewCard))).all()
        before = (card.user_id, card.question_id, card.state, card.due_at, card.reviews)

    filed = await client.post(
        f"/api/v1/questions/{qid}/error-reports",
        json={"reason": "wrong_key", "note": "The key should be B."},
        headers=learner,
    )
    assert filed.status_code == 201, filed.text
    report = filed.json()
    assert (report["status"], report["reported_version"]) == ("open", 1)
    assert (await client.get("/api/v1/error-reports", headers=learner)).status_code == 403
    queue = await client.get(
        "/api/v1/error-reports", params={"status": "open", "certification": CERT}, headers=author
    )
    assert [r["id"] for r in queue.json()] == [report["id"]]
    other_cert = await client.get(
        "/api/v1/error-reports", params={"certification": "KR-X"}, headers=author
    )
    assert other_cert.json() == []

    async with db.transaction() as uow:
        await content.edit_question(
            uow, storage, qid, choice_question("고친 문제", ("A", "B", "C", "D"), key=1), None
        )
    await relay_events(app)
    await relay_events(app)  # a handler that runs twice resolves and notifies once

    done = (await client.get(f"/api/v1/error-reports/{report['id']}", headers=author)).json()
    assert (done["status"], done["resolved_version"], done["current_version"]) == (
        "resolved",
        2,
        2,
    )
    notices = (await client.get("/api/v1/me/notices", headers=learner)).json()
    assert [(n["kind"], n["question_id"], n["version"]) for n in notices] == [
        ("report_resolved", qid, 2)
    ]
    home = await client.get("/", headers=learner)
    assert f"/questions/{qid}/discussion" in home.text
    async with db.transaction() as uow:
        [card] = (await uow.session.scalars(select(ReviewCard))).all()
        assert (card.user_id, card.question_id, card.state, card.due_at, card.reviews) == before
    async with db.transaction() as uow:
        actions = set((await uow.session.scalars(select(AuditEntry.action))).all())
    assert {"community.error_report.filed", "community.error_report.resolved"} <= actions
    dismissed = await client.delete(f"/api/v1/me/notices/{notices[0]['id']}", headers=learner)
    assert dismissed.status_code == 204
    assert (await client.get("/api/v1/me/notices", headers=learner)).json() == []


async def test_an_author_closes_a_report_without_an_edit_and_can_reopen_it(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    author = await _author(client, db)
    filed = await client.post(
        f"/api/v1/questions/{questions.elsewhere}/error-reports",
        json={"reason": "unclear"},
        headers=learner,
    )
    url = f"/api/v1/error-reports/{filed.json()['id']}"
    closed = await client.patch(
        url, json={"status": "resolved", "resolution": "The stem is right."}, headers=author
    )
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["resolution"]) == (
        "resolved",
        "The stem is right.",
    )
    assert [
        n["kind"] for n in (await client.get("/api/v1/me/notices", headers=learner)).json()
    ] == ["report_closed"]
    reopened = await client.patch(url, json={"status": "open"}, headers=author)
    assert reopened.json()["status"] == "open"
    async with db.transaction() as uow:
        statuses = (await uow.session.scalars(select(ErrorReport.status))).all()
    assert statuses == ["open"]
    assert (await client.get("/api/v1/error-reports/nope", headers=author)).status_code == 404


async def test_review_notes_and_feedback_link_to_the_discussion_and_the_api_is_documented(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await bearer(client, db)
    attempt = await start_paper(client, learner, questions.paper)
    view = (await client.get(f"/api/v1/attempts/{attempt}", headers=learner)).json()
    [item] = view["items"]
    right = (await keys_of(db, view))[item["position"]]
    await save(client, learner, attempt, item["position"], wrong_key(item, right))
    await client.post(f"/api/v1/attempts/{attempt}/submit", headers=learner)
    link = f"/questions/{questions.in_paper}/discussion"
    review = await client.get(f"/exam/{attempt}/review", headers=learner)
    assert review.status_code == 200
    assert link in review.text
    assert link in (await client.get("/notes", headers=learner)).text
    run = await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT}, headers=learner
    )
    session = run.json()["id"]
    shown = await client.get(f"/api/v1/practice/sessions/{session}/questions/0", headers=learner)
    label = shown.json()["question"]["choices"][0]["label"]
    feedback = await client.post(
        f"/practice/{session}/0/answer", data={"choice": label}, headers=learner
    )
    assert feedback.status_code == 200, feedback.text
    assert "/discussion" in feedback.text
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/questions/{question_id}/discussion",
        "/api/v1/questions/{question_id}/discussion/comments",
        "/api/v1/comments/{comment_id}/vote",
        "/api/v1/comments/{comment_id}/accepted",
        "/api/v1/comments/{comment_id}/moderation",
        "/api/v1/comments/{comment_id}/abuse-reports",
        "/api/v1/questions/{question_id}/error-reports",
        "/api/v1/error-reports/{report_id}",
    ):
        assert path in paths


async def test_a_thread_reads_in_the_same_number_of_queries_however_many_writers(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    reader = await bearer(client, db)
    url = f"/api/v1/questions/{questions.elsewhere}/discussion"
    statements: list[str] = []

    def count(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async def queries() -> int:
        statements.clear()
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            assert (await client.get(url, headers=reader)).status_code == 200
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(statements)

    await comment(client, reader, questions.elsewhere, "first")
    one_writer = await queries()
    for _ in range(5):
        writer = await _second_learner(client, db)
        assert (await comment(client, writer, questions.elsewhere, "more")).status_code == 201
    assert await queries() == one_writer
