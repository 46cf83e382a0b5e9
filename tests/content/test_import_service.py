"""Imports are all-or-nothing, idempotent, and version what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from certplatform.content import service
from certplatform.content.contracts import QuestionStatus
from certplatform.content.formats import fcc_json
from certplatform.content.formats.base import ItemError, ParseResult
from certplatform.kernel.db import Database
from certplatform.kernel.errors import Conflict
from certplatform.kernel.storage import LocalStorage
from tests.support.content import choice_question

POOLS = Path(__file__).resolve().parents[2] / "src/certplatform/demo/data/fcc"


def technician() -> ParseResult:
    return fcc_json.parse((POOLS / "technician-2026-2030.json").read_bytes(), media_dir=POOLS)


async def test_fcc_pool_imports_then_reimports_unchanged(
    db: Database, storage: LocalStorage
) -> None:
    parsed = technician()
    async with db.transaction() as uow:
        first = await service.import_drafts(
            uow, storage, "US-FCC-TECHNICIAN", parsed.drafts, certification_name="Technician"
        )
    assert (first.created, first.updated, first.unchanged) == (409, 0, 0)
    async with db.transaction() as uow:
        again = await service.import_drafts(uow, storage, "US-FCC-TECHNICIAN", technician().drafts)
        detail = await service.certification_detail(uow, "US-FCC-TECHNICIAN")
        figure = await service.media_file(uow, "US-FCC-TECHNICIAN", "t-1.png")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 409)
    assert detail.name == "Technician"
    assert [s.code for s in detail.subjects][:2] == ["T1", "T2"]
    assert sum(len(s.topics) for s in detail.subjects) == 35
    assert detail.question_counts["draft"] == 409
    assert figure[0] == "image/png"
    assert storage.get(figure[1]) == (POOLS / "t-1.png").read_bytes()


async def test_a_changed_item_becomes_a_new_version_and_the_old_stays_readable(
    db: Database, storage: LocalStorage
) -> None:
    original = choice_question("관련 법령에 따른 설명으로 옳은 것은?", external_id="Q1")
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-X", [original])
    fixed = choice_question("관련 법령에 따른 설명으로 옳은 것은?", key=2, external_id="Q1")
    async with db.transaction() as uow:
        summary = await service.import_drafts(uow, storage, "KR-X", [fixed])
        [question] = await service.find_questions(uow, certification_code="KR-X")
        versions = await service.question_versions(uow, question.id)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 0)
    assert question.version.number == 2
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].content.choices[0].weight == 1.0
    assert versions[1].content.choices[2].weight == 1.0


async def test_one_bad_item_refuses_the_whole_import(db: Database, storage: LocalStorage) -> None:
    good = [choice_question(f"문항 {n}", external_id=f"Q{n}") for n in range(3)]
    with pytest.raises(service.ImportRejected) as refused:
        async with db.transaction() as uow:
            await service.import_drafts(
                uow,
                storage,
                "KR-X",
                good,
                parse_errors=[ItemError("line 7", "answer 'E' does not name a choice")],
            )
    assert refused.value.errors == ["line 7: answer 'E' does not name a choice"]
    async with db.transaction() as uow:
        assert await service.list_certifications(uow) == []

    async with db.transaction() as uow:
        partial = await service.import_drafts(
            uow,
            storage,
            "KR-X",
            good,
            parse_errors=[ItemError("line 7", "bad")],
            skip_invalid=True,
        )
    assert (partial.created, partial.errors) == (3, ("line 7: bad",))


async def test_duplicate_ids_in_one_file_are_an_error(db: Database, storage: LocalStorage) -> None:
    twice = [choice_question("a", external_id="Q1"), choice_question("b", external_id="Q1")]
    with pytest.raises(service.ImportRejected, match="1 item"):
        async with db.transaction() as uow:
            await service.import_drafts(uow, storage, "KR-X", twice)


async def test_dry_run_reports_and_writes_nothing(db: Database, storage: LocalStorage) -> None:
    async with db.transaction() as uow:
        summary = await service.import_drafts(
            uow, storage, "US-FCC-TECHNICIAN", technician().drafts, dry_run=True
        )
    assert (summary.created, summary.dry_run) == (409, True)
    async with db.transaction() as uow:
        assert await service.list_certifications(uow) == []


async def test_items_without_ids_match_by_content_fingerprint(
    db: Database, storage: LocalStorage
) -> None:
    items = [choice_question("첫 문항"), choice_question("둘째 문항")]
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-X", items)
    async with db.transaction() as uow:
        again = await service.import_drafts(
            uow, storage, "KR-X", [*items, choice_question("셋째 문항")]
        )
    assert (again.created, again.unchanged) == (1, 2)


async def test_status_moves_along_the_workflow_only(db: Database, storage: LocalStorage) -> None:
    async with db.transaction() as uow:
        await service.import_drafts(
            uow, storage, "KR-X", [choice_question("문항", external_id="Q")]
        )
        [q] = await service.find_questions(uow, certification_code="KR-X")
    with pytest.raises(Conflict, match="can move to"):
        async with db.transaction() as uow:
            await service.set_status(uow, [q.id], QuestionStatus.PUBLISHED, None)
    async with db.transaction() as uow:
        await service.set_status(uow, [q.id], QuestionStatus.REVIEW, None)
        [published] = await service.set_status(uow, [q.id], QuestionStatus.PUBLISHED, None)
    assert published.status is QuestionStatus.PUBLISHED
