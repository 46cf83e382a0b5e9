"""The question bank through HTTP: import upload, editing with versions, workflow, export."""

from __future__ import annotations

from pathlib import Path

import httpx

from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import bearer
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


async def test_edit_versions_and_workflow(client: httpx.AsyncClient, db: Database) -> None:
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
