"""Past papers by year and round, and the learner's question search, over HTTP: no question
ids or keys on the learner's pages, and nothing of the learner's open attempt (ADR 15)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from certplatform.content import service as content
from certplatform.content.contracts import (
    PaperItemSpec,
    PassRule,
    PastPaperSpec,
    PastPaperSummary,
)
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.learning import library
from tests.support.accounts import PASSWORD, make_user
from tests.support.exams import keys_of, load, save

CERT = "KR-INFO-ENGINEER"
QUERY = "요구사항 개발 프로세스"  # the stem of KIE-S1-001, the first question of MOCK-01


async def _sign_in(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    address = await make_user(db, "learner", "library@example.com")
    login = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"X-CSRF-Token": login.json()["csrf_token"]}


async def _papers(db: Database) -> dict[str, list[str]]:
    async with db.transaction() as uow:
        return {
            p.code: [i.question_id for i in p.items] for p in await content.past_papers(uow, CERT)
        }


async def _add_dated_paper(db: Database, avoid: set[str]) -> list[str]:
    """A second paper, 2024년 2회, of three questions that MOCK-01 does not hold."""
    async with db.transaction() as uow:
        found = await content.find_questions(uow, certification_code=CERT, limit=1000)
        chosen = [q for q in found if q.id not in avoid][:3]
        await content.save_past_paper(
            uow,
            CERT,
            PastPaperSpec(
                code="2024-2",
                name="2024년 2회",
                time_limit_minutes=10,
                pass_rule=PassRule(mode="percent", threshold=60),
                items=tuple(
                    PaperItemSpec(question_id=q.id, section_code="S1", section_name="1과목")
                    for q in chosen
                ),
            ),
            None,
        )
    return [q.id for q in chosen]


async def test_papers_by_year_and_round_show_no_question_ids_and_my_best(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    mock = (await _papers(db))["MOCK-01"]
    dated = await _add_dated_paper(db, set(mock))
    anonymous = await client.get(f"/certifications/{CERT}/papers")
    assert anonymous.status_code == 200
    assert "2024년 2회" in anonymous.text
    assert "모의 1회" in anonymous.text
    # Newest first: the 2024 paper, with its round, before the undated one.
    assert anonymous.text.index("2024년 2회") < anonymous.text.index("모의 1회")
    for qid in [*mock, *dated]:
        assert qid not in anonymous.text
    headers = await _sign_in(client, db)
    listed = await client.get(f"/api/v1/certifications/{CERT}/past-papers")
    papers = {s["code"]: s["id"] for s in listed.json()}
    page = await client.get(f"/certifications/{CERT}/papers")
    assert f"/papers/{papers['2024-2']}/practice" in page.text
    assert "아직 응시하지 않음" in page.text
    for qid in [*mock, *dated]:
        assert qid not in page.text

    # Two sittings: every answer right, then none; the list shows the best and the count.
    for answer_all in (True, False):
        started = await client.post(
            "/api/v1/attempts", json={"paper_id": papers["2024-2"]}, headers=headers
        )
        assert started.status_code == 201, started.text
        view = started.json()
        if answer_all:
            for position, right in (await keys_of(db, view)).items():
                saved = await save(client, headers, view["id"], position, right[0])
                assert saved.status_code == 200, saved.text
        submitted = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
    page = await client.get(f"/certifications/{CERT}/papers")
    assert "최고 점수: 100%" in page.text
    assert "응시 2회" in page.text
    assert "아직 응시하지 않음" in page.text  # MOCK-01 still


async def test_practising_a_paper_follows_its_order_and_waits_for_the_open_exam(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    mock = (await _papers(db))["MOCK-01"]
    headers = await _sign_in(client, db)
    papers = {
        s["code"]: s["id"]
        for s in (await client.get(f"/api/v1/certifications/{CERT}/past-papers")).json()
    }
    started = await client.post(
        "/api/v1/attempts", json={"paper_id": papers["MOCK-01"]}, headers=headers
    )
    attempt = started.json()["id"]
    locked = await client.get(f"/papers/{papers['MOCK-01']}/practice")
    assert locked.status_code == 409
    await client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers)
    run = await client.get(f"/papers/{papers['MOCK-01']}/practice")
    assert run.status_code == 303
    session_id = run.headers["location"].split("/")[2]
    async with db.transaction() as uow:
        ids = (
            await uow.session.execute(
                text("SELECT question_ids FROM practice_sessions WHERE id = :id"),
                {"id": session_id},
            )
        ).scalar_one()
    if isinstance(ids, str):
        import json

        ids = json.loads(ids)
    assert ids == mock


async def test_search_leaves_out_the_open_attempt_and_shows_no_keys(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, CERT)
    mock = (await _papers(db))["MOCK-01"]
    headers = await _sign_in(client, db)
    async with db.transaction() as uow:
        wanted = await content.get_question(uow, mock[0])
    before = await client.get("/search", params={"q": QUERY})
    assert before.status_code == 200
    assert f"/search/{mock[0]}/practice" in before.text
    # The key and the explanation stay out of the results.
    assert wanted.version.content.explanation
    assert wanted.version.content.explanation[:30] not in before.text
    assert wanted.version.content.choices[0].text not in before.text

    papers = {
        s["code"]: s["id"]
        for s in (await client.get(f"/api/v1/certifications/{CERT}/past-papers")).json()
    }
    started = await client.post(
        "/api/v1/attempts", json={"paper_id": papers["MOCK-01"]}, headers=headers
    )
    attempt = started.json()["id"]
    during = await client.get("/search", params={"q": QUERY, "certification": CERT})
    assert during.status_code == 200
    assert mock[0] not in during.text
    assert (await client.get(f"/search/{mock[0]}/practice")).status_code == 409

    await client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers)
    after = await client.get("/search", params={"q": QUERY})
    assert f"/search/{mock[0]}/practice" in after.text
    opened = await client.get(f"/search/{mock[0]}/practice")
    assert opened.status_code == 303
    question = await client.get(opened.headers["location"])
    assert question.status_code == 200
    assert QUERY in question.text
    assert wanted.version.content.explanation[:30] not in question.text
    assert (await client.get("/search", params={"q": "x" * 201})).status_code == 422


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("2024-2", "anything", (2024, 2)),
        ("KR-2023-03", "", (2023, 3)),
        ("MOCK-01", "2022년 1회 필기", (2022, 1)),
        ("MOCK-01", "모의 1회 (고정 문항)", (None, None)),
        ("Y2021", "2021 annual paper", (2021, None)),
    ],
)
def test_year_and_round_are_read_from_the_code_then_the_name(
    code: str, name: str, expected: tuple[int | None, int | None]
) -> None:
    summary = PastPaperSummary(
        id="p",
        certification_code=CERT,
        code=code,
        name=name or code,
        source=None,
        time_limit_minutes=10,
        pass_rule=PassRule(mode="percent", threshold=60),
        question_count=1,
        sections=(),
    )
    assert library.year_and_round(summary) == expected
