"""The question bank through HTTP: import upload, editing with versions, workflow, export."""

from __future__ import annotations

from pathlib import Path

import httpx

from certplatform.kernel.db import Database
from tests.support.accounts import bearer

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
