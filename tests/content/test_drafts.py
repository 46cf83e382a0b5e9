"""Editing a published question makes a draft; learners keep the published version until it
is published, optionally by someone other than its author (ADR 0026). Over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from certplatform.kernel.db import Database
from certplatform.kernel.settings import Settings
from tests.support.accounts import PASSWORD, bearer, make_user

CERT = "KR-DRAFTS"
OLD, NEW = "기본키에 적용되는 무결성은?", "기본키(PRIMARY KEY)가 보장하는 무결성은?"


def _body(stem: str) -> dict[str, Any]:
    return {
        "content": {
            "type": "single_choice",
            "stem": stem,
            "choices": [
                {"id": "A", "text": "개체 무결성", "weight": 1},
                {"id": "B", "text": "참조 무결성"},
            ],
        },
        "external_id": "DB-1",
        "subject": "S1",
    }


async def _token(client: httpx.AsyncClient, db: Database, email: str) -> dict[str, str]:
    await make_user(db, "author", email)
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture
def two_person_rule(app: FastAPI) -> Iterator[None]:
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update={"content_two_person_rule": True})
    yield
    app.state.settings = settings


async def _publish(
    client: httpx.AsyncClient, who: dict[str, str], qid: str, **headers: str
) -> httpx.Response:
    return await _move(client, who, qid, "published", **headers)


async def _move(
    client: httpx.AsyncClient, who: dict[str, str], qid: str, status: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/questions/status",
        json={"question_ids": [qid], "status": status},
        headers={**who, **headers},
    )


async def _practised_stem(client: httpx.AsyncClient, learner: dict[str, str]) -> str:
    session = await client.post(
        "/api/v1/practice/sessions", json={"certification": CERT}, headers=learner
    )
    assert session.status_code == 201, session.text
    shown = await client.get(
        f"/api/v1/practice/sessions/{session.json()['id']}/questions/0", headers=learner
    )
    stem: str = shown.json()["question"]["stem"]
    return stem


async def _exam_stem(client: httpx.AsyncClient, learner: dict[str, str], blueprint: str) -> str:
    started = await client.post(
        "/api/v1/attempts", json={"blueprint_id": blueprint}, headers=learner
    )
    assert started.status_code == 201, started.text
    stem: str = started.json()["items"][0]["question"]["stem"]
    await client.post(f"/api/v1/attempts/{started.json()['id']}/submit", headers=learner)
    return stem


async def _found(client: httpx.AsyncClient, who: dict[str, str], words: str) -> int:
    reply = await client.get(
        "/api/v1/questions",
        params={"q": words, "certification": CERT, "status": "published"},
        headers=who,
    )
    return len(reply.json()["items"])


async def test_learners_keep_the_published_version_until_the_draft_is_published(
    client: httpx.AsyncClient, db: Database, two_person_rule: None
) -> None:
    writer = await _token(client, db, "writer@example.com")
    checker = await _token(client, db, "checker@example.com")
    learner = await bearer(client, db)
    await client.post("/api/v1/certifications", json={"code": CERT, "name": "DB"}, headers=writer)
    created = await client.post(
        f"/api/v1/certifications/{CERT}/questions", json=_body(OLD), headers=writer
    )
    qid = created.json()["id"]
    blueprint = await client.put(
        f"/api/v1/certifications/{CERT}/blueprints",
        json={
            "code": "MOCK",
            "name": "Mock",
            "time_limit_minutes": 10,
            "pass_rule": {"mode": "percent", "threshold": 60},
            "sections": [{"code": "S", "name": "S", "question_count": 1}],
        },
        headers=writer,
    )
    assert blueprint.status_code == 200, blueprint.text

    # The two-person rule: the writer may not publish what they wrote; nothing changes.
    assert (await _move(client, writer, qid, "review")).status_code == 200
    refused = await _publish(client, writer, qid)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "two_person_rule"
    assert "another author must publish it" in refused.json()["error"]["message"]
    korean = await _publish(client, writer, qid, **{"accept-language": "ko-KR,ko;q=0.9"})
    assert korean.json()["error"]["message"] == (
        "문항 DB-1의 버전 1은 본인이 작성했으므로, "
        "2인 검토 규칙에 따라 다른 저자가 게시해야 합니다."
    )
    shown = await client.get(f"/api/v1/questions/{qid}", headers=writer)
    assert shown.json()["status"] == "review"
    assert (await _publish(client, checker, qid)).status_code == 200

    # The writer edits the published question: version 2 is a draft on top of version 1.
    edited = await client.put(
        f"/api/v1/questions/{qid}", json={**_body(NEW), "expected_version": 1}, headers=writer
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "published"
    assert edited.json()["version"]["number"] == 2
    assert (edited.json()["published_version"], edited.json()["newest_version"]) == (1, 2)

    assert await _practised_stem(client, learner) == OLD
    assert await _exam_stem(client, learner, blueprint.json()["id"]) == OLD
    assert (await _found(client, writer, "PRIMARY"), await _found(client, writer, "적용되는")) == (
        0,
        1,
    )

    assert (await _publish(client, writer, qid)).status_code == 409
    published = await _publish(client, checker, qid)
    assert published.status_code == 200, published.text
    assert published.json()[0]["published_version"] == 2

    assert await _practised_stem(client, learner) == NEW
    assert await _exam_stem(client, learner, blueprint.json()["id"]) == NEW
    assert (await _found(client, writer, "PRIMARY"), await _found(client, writer, "적용되는")) == (
        1,
        0,
    )


async def test_without_the_rule_an_author_publishes_their_own_draft(
    client: httpx.AsyncClient, db: Database
) -> None:
    writer = await bearer(client, db, "author")
    await client.post("/api/v1/certifications", json={"code": CERT, "name": "DB"}, headers=writer)
    created = await client.post(
        f"/api/v1/certifications/{CERT}/questions", json=_body(OLD), headers=writer
    )
    qid = created.json()["id"]
    assert (await _move(client, writer, qid, "review")).status_code == 200
    assert (await _publish(client, writer, qid)).status_code == 200
    await client.put(f"/api/v1/questions/{qid}", json=_body(NEW), headers=writer)
    again = await _publish(client, writer, qid)
    assert again.status_code == 200
    assert (again.json()[0]["published_version"], again.json()[0]["version"]["number"]) == (2, 2)


async def test_under_the_rule_an_import_cannot_publish(
    client: httpx.AsyncClient, db: Database, two_person_rule: None
) -> None:
    writer = await bearer(client, db, "author")
    reply = await client.post(
        f"/api/v1/certifications/{CERT}/import",
        headers=writer,
        files={"file": ("q.gift", b"::T::2 + 2? {=4 ~3}")},
        data={"format": "gift", "status": "published"},
    )
    assert reply.status_code == 409
    assert "two-person rule" in reply.json()["error"]["message"]
    assert (await client.get("/api/v1/certifications", headers=writer)).json() == []
