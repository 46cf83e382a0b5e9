"""The question bank through HTTP: import upload, editing with versions, workflow, export."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import bearer
from tests.support.events import relay_events
from tests.support.exams import load

POOLS = Path(__file__).resolve().parents[2] / "src/certplatform/demo/data/fcc"
AIKEN = (
    "무결성 제약 조건 중 기본키에 관한 것은?\n"
    "A. 개체 무결성\nB. 참조 무결성\nC. 도메인 무결성\nD. 사용자 정의 무결성\nANSWER: A\n"
)


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, fmt: str, **form: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/certifications/US-FCC-TECHNICIAN/import",
        headers=headers,
        files={"file": ("pool.json", data)},
        data={"format": fmt, **form},
    )


async def test_import_upload_dry_run_then_apply(client: httpx.AsyncClient, db: Database) -> None:
    author = await bearer(client, db, "author")
    data = (POOLS / "technician-2026-2030.json").read_bytes()
    dry = await _import(client, author, data, "fcc-json", dry_run="true")
    assert dry.status_code == 200, dry.text
    assert (dry.json()["created"], dry.json()["dry_run"]) == (409, True)
    assert (await client.get("/api/v1/certifications")).json() == []

    applied = await _import(client, author, data, "fcc-json", name="Technician", status="published")
    assert applied.json()["created"] == 409
    again = await _import(client, author, data, "fcc-json")
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 409)

    found = await client.get(
        "/api/v1/questions",
        params={"q": "agency regulates", "certification": "US-FCC-TECHNICIAN"},
        headers=author,
    )
    assert found.json()["items"][0]["external_id"] == "T1A02"


async def test_a_broken_file_is_refused_with_item_errors(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    bad = b'[{"id": "T1A01", "correct": 7, "question": "q", "answers": ["a","b","c","d"]}]'
    reply = await _import(client, author, bad, "fcc-json")
    assert reply.status_code == 422
    assert "T1A01" in " ".join(reply.json()["error"]["details"]["errors"])
    not_json = await _import(client, author, b"{{{", "fcc-json")
    assert not_json.status_code == 422
    unknown = await _import(client, author, b"x", "word")
    assert "Unknown format" in unknown.json()["error"]["message"]
    assert (await client.get("/api/v1/certifications")).json() == []


async def test_edit_versions_and_workflow(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    assert (
        await client.post(
            "/api/v1/certifications",
            json={"code": "KR-DB", "name": "데이터베이스"},
            headers=author,
        )
    ).status_code == 201
    body = {
        "content": {
            "type": "single_choice",
            "stem": "기본키에 적용되는 무결성은?",
            "choices": [
                {"id": "A", "text": "개체 무결성", "weight": 1},
                {"id": "B", "text": "참조 무결성"},
            ],
            "explanation": "기본키는 NULL과 중복을 허용하지 않는다.",
        },
        "external_id": "DB-1",
        "subject": "S3",
        "subject_name": "데이터베이스 구축",
        "law_refs": [{"law": "개인정보 보호법", "article": "제29조"}],
    }
    created = await client.post("/api/v1/certifications/KR-DB/questions", json=body, headers=author)
    assert created.status_code == 201, created.text
    qid = created.json()["id"]
    assert created.json()["status"] == "draft"

    body["content"]["choices"][1]["text"] = "참조 무결성 (외래키)"  # type: ignore[index]
    stale = await client.put(
        f"/api/v1/questions/{qid}", json={**body, "expected_version": 2}, headers=author
    )
    assert stale.status_code == 409
    edited = await client.put(
        f"/api/v1/questions/{qid}",
        json={**body, "expected_version": 1, "note": "보기 B 보완"},
        headers=author,
    )
    assert edited.json()["version"]["number"] == 2
    await relay_events(app)
    admin = await bearer(client, db, "admin")
    logged = await client.get(
        "/api/v1/audit", params={"action_prefix": "content.question.versioned"}, headers=admin
    )
    assert [e["data"]["version"] for e in logged.json()] == [2]
    versions = (await client.get(f"/api/v1/questions/{qid}/versions", headers=author)).json()
    assert [v["note"] for v in versions] == ["created", "보기 B 보완"]
    v1 = (await client.get(f"/api/v1/questions/{qid}/versions/1", headers=author)).json()
    assert v1["content"]["choices"][1]["text"] == "참조 무결성"

    invalid = await client.put(
        f"/api/v1/questions/{qid}",
        json={**body, "content": {**body["content"], "choices": []}},  # type: ignore[dict-item]
        headers=author,
    )
    assert invalid.status_code == 422
    assert "at least 2 choices" in invalid.json()["error"]["message"]

    skip = await client.post(
        "/api/v1/questions/status",
        json={"question_ids": [qid], "status": "published"},
        headers=author,
    )
    assert skip.status_code == 409
    for status in ("review", "published"):
        moved = await client.post(
            "/api/v1/questions/status",
            json={"question_ids": [qid], "status": status},
            headers=author,
        )
        assert moved.json()[0]["status"] == status


async def test_export_imports_back_to_the_same_questions(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    reply = await client.post(
        "/api/v1/certifications/KR-A/import",
        headers=author,
        files={"file": ("q.txt", AIKEN.encode())},
        data={"format": "aiken"},
    )
    assert reply.json()["created"] == 1, reply.text
    exported = await client.get(
        "/api/v1/certifications/KR-A/export", params={"format": "gift"}, headers=author
    )
    assert exported.status_code == 200
    back = await client.post(
        "/api/v1/certifications/KR-A/import",
        headers=author,
        files={"file": ("q.gift", exported.content)},
        data={"format": "gift"},
    )
    assert (back.json()["created"], back.json()["unchanged"]) == (0, 1), back.text


MOODLE_QUIZ = b"""<quiz>
  <question type="multichoice">
    <name><text>Primes</text></name>
    <questiontext><text>Which are prime?</text></questiontext>
    <idnumber>MR-1</idnumber>
    <single>false</single>
    <answer fraction="33.33333"><text>2</text></answer>
    <answer fraction="33.33333"><text>3</text></answer>
    <answer fraction="33.33333"><text>5</text></answer>
    <answer fraction="-50"><text>4</text></answer>
  </question>
  <question type="multichoice">
    <name><text>Odd grade</text></name>
    <questiontext><text>Which is even?</text></questiontext>
    <idnumber>SC-35</idnumber>
    <answer fraction="100"><text>2</text></answer>
    <answer fraction="35"><text>3</text></answer>
  </question>
</quiz>"""


async def test_moodle_grades_are_checked_on_import_and_export(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")

    async def upload(data: bytes, fmt: str, **form: str) -> httpx.Response:
        return await client.post(
            "/api/v1/certifications/KR-M/import",
            headers=author,
            files={"file": ("quiz", data)},
            data={"format": fmt, **form},
        )

    refused = await upload(MOODLE_QUIZ, "moodle-xml")
    assert refused.status_code == 422
    [error] = refused.json()["error"]["details"]["errors"]
    assert error.startswith("question 2 (idnumber SC-35 / name Odd grade): answer 2: the grade 35%")
    assert (await client.get("/api/v1/certifications")).json() == []

    partial = await upload(MOODLE_QUIZ, "moodle-xml", skip_invalid="true")
    assert partial.json()["created"] == 1, partial.text
    gift_refused = await upload(b"::Odd::Which?{=2 ~%35%3}", "gift")
    assert gift_refused.status_code == 422
    assert "line 1 (title Odd): answer 2: the grade 35%" in gift_refused.text

    for fmt in ("moodle-xml", "gift"):
        exported = await client.get(
            "/api/v1/certifications/KR-M/export", params={"format": fmt}, headers=author
        )
        assert exported.status_code == 200
        assert exported.text.count("33.33333") == 3
        back = await upload(exported.content, fmt)
        assert (back.json()["created"], back.json()["unchanged"]) == (0, 1), back.text

    # A weight Moodle cannot hold, entered by hand, is refused on export with the question's id.
    body = {
        "content": {
            "type": "multiple_response",
            "stem": "Pick two.",
            "choices": [
                {"id": "A", "text": "a", "weight": 0.35},
                {"id": "B", "text": "b", "weight": 0.65},
                {"id": "C", "text": "c"},
            ],
        },
        "external_id": "MR-35",
    }
    created = await client.post("/api/v1/certifications/KR-M/questions", json=body, headers=author)
    assert created.status_code == 201, created.text
    for fmt in ("moodle-xml", "gift"):
        exported = await client.get(
            "/api/v1/certifications/KR-M/export", params={"format": fmt}, headers=author
        )
        assert exported.status_code == 422
        assert "question MR-35: the grade 35% is not one Moodle allows" in exported.text


async def test_csv_export_guards_formulas_and_imports_back_the_same_text(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    for code in ("KR-F", "KR-G"):
        made = await client.post(
            "/api/v1/certifications", json={"code": code, "name": code}, headers=author
        )
        assert made.status_code == 201
    stems = ["=1+1", "-5 V", "@SUM(A1)", "'Tis the season", "'=1+1"]
    for number, stem in enumerate(stems):
        body = {
            "content": {"type": "true_false", "stem": stem, "true_false_answer": True},
            "external_id": f"F-{number}",
            "tags": [stem],
        }
        created = await client.post(
            "/api/v1/certifications/KR-F/questions", json=body, headers=author
        )
        assert created.status_code == 201, created.text
    exported = await client.get(
        "/api/v1/certifications/KR-F/export", params={"format": "csv"}, headers=author
    )
    assert exported.status_code == 200
    text = exported.content.decode("utf-8-sig")
    for cell in ["'=1+1", "'-5 V", "'@SUM(A1)", "''Tis the season", "''=1+1"]:
        assert f"\r\nF-{stems.index(cell[1:])},true_false,,,,,{cell}," in text

    back = await client.post(
        "/api/v1/certifications/KR-G/import",
        headers=author,
        files={"file": ("KR-F.csv", exported.content)},
        data={"format": "csv"},
    )
    assert back.json()["created"] == len(stems), back.text
    page = await client.get(
        "/api/v1/questions", params={"certification": "KR-G", "limit": 50}, headers=author
    )
    imported = {q["external_id"]: q["version"] for q in page.json()["items"]}
    assert {k: (v["content"]["stem"], v["tags"]) for k, v in imported.items()} == {
        f"F-{n}": (stem, [stem]) for n, stem in enumerate(stems)
    }


async def test_past_papers_list_their_questions_only_to_those_who_edit_forms(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    """Which questions a fixed paper holds would let a learner practise them first: the
    catalogue shows the paper's sections, counts and time limit, not its question ids."""
    await load(db, storage, "KR-INFO-ENGINEER")
    path = "/api/v1/certifications/KR-INFO-ENGINEER/past-papers"
    author = await client.get(path, headers=await bearer(client, db, "author"))
    [form] = author.json()
    question_ids = {i["question_id"] for i in form["items"]}
    assert len(question_ids) == 100
    for headers in ({}, await bearer(client, db)):
        reply = await client.get(path, headers=headers)
        assert reply.status_code == 200
        [paper] = reply.json()
        assert not [q for q in question_ids if q in reply.text]
        assert set(paper) == {
            "id",
            "certification_code",
            "code",
            "name",
            "source",
            "time_limit_minutes",
            "pass_rule",
            "question_count",
            "sections",
        }
        assert (paper["id"], paper["question_count"]) == (form["id"], 100)
        assert paper["time_limit_minutes"] == form["time_limit_minutes"]
        assert [(s["question_count"], s["points"]) for s in paper["sections"]] == [(20, 100)] * 5
