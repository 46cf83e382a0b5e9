"""Authors in a real browser, in Korean: a draft on top of a published question, and the
import wizard's dry run that lists every item and keeps the import off while errors remain."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, expect

from certplatform.content import service as content
from certplatform.content.contracts import QuestionStatus
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import SCREENSHOTS, axe_violations, sign_in
from tests.support.content import choice_question

CERT = "DRAFT-DEMO"
BROKEN_GIFT = """\
// [id:G1]
::Capital::What is the capital of France? {=Paris ~London ~Berlin}

// [id:G2]
::Open::This block is never closed {=a ~b

// [id:G3]
::Sky::The sky on a clear day is blue. {T}
"""


async def author(page: Page, base_url: str, db: Database) -> None:
    email = await make_user(db, "author", "author-authoring@example.com")
    await sign_in(page, base_url, email, PASSWORD)


async def screenshot(page: Page, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / name, full_page=True)


async def test_editing_a_published_question_shows_the_draft_beside_the_published_version(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, CERT, "Draft demo")
        draft = choice_question("가장 큰 행성은?", ("수성", "목성", "금성", "화성"), key=1)
        qid = (await content.create_question(uow, storage, CERT, draft, None)).id
        await content.set_status(uow, [qid], QuestionStatus.REVIEW, None)
        await content.set_status(uow, [qid], QuestionStatus.PUBLISHED, None)
    await author(page, base_url, db)

    await page.goto(f"{base_url}/admin/questions/{qid}/edit")
    await page.fill("#choice-3-text", "금성 (가장 뜨거운 행성)")
    await page.locator("#f-stem").press("End")
    await page.locator("form.editor button[type=submit].primary").click()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#version-state")).to_have_text("게시 v1, 초안 v2")
    await screenshot(page, "admin-editor-draft-ko.png")
    assert await axe_violations(page) == []

    async with db.transaction() as uow:  # learners still get version 1
        served = await content.current_versions(uow, [qid])
    assert served[qid].number == 1

    await page.goto(f"{base_url}/admin/questions?certification={CERT}")
    await expect(page.locator(".questions-table tbody tr td.num").first).to_have_text(
        "게시 v1, 초안 v2"
    )
    await page.goto(f"{base_url}/admin/questions/{qid}/versions")
    await page.get_by_role("button", name="버전 2 게시").click()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".meta")).to_contain_text("현재 버전 2")
    async with db.transaction() as uow:
        served = await content.current_versions(uow, [qid])
    assert served[qid].number == 2


async def test_dry_run_lists_items_and_keeps_the_import_off_while_errors_remain(
    page: Page, base_url: str, db: Database, tmp_path: Path
) -> None:
    await author(page, base_url, db)
    gift = tmp_path / "broken.gift"
    gift.write_text(BROKEN_GIFT, encoding="utf-8")

    await page.goto(f"{base_url}/admin/import")
    await page.set_input_files("#f-file", gift)
    await page.select_option("#f-format", "gift")
    await page.fill("#f-certification", "GIFT-DRY")
    await page.locator("form[action='/admin/import'] button.primary").click()
    await page.wait_for_load_state("networkidle")

    rows = page.locator("#import-items tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator("th")).to_have_text("G1")
    await expect(rows.nth(0)).to_contain_text("Capital")
    await expect(rows.nth(0)).to_contain_text("새로 만듦")
    # The parser's error, in Korean, with where it is.
    await expect(page.locator(".item-errors li")).to_have_text(
        "5행: 답 블록 '{'이(가) '}'로 닫히지 않았습니다"
    )
    button = page.locator("[data-import-button]")
    await expect(button).to_be_disabled()
    await screenshot(page, "admin-import-dry-run-ko.png")
    assert await axe_violations(page) == []

    # Skipping the invalid items lifts the block; unticking puts it back.
    await page.check("#f-skip")
    await expect(button).to_be_enabled()
    await page.uncheck("#f-skip")
    await expect(button).to_be_disabled()
    await page.check("#f-skip")
    await button.click()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".stats li").first).to_contain_text("2")
    async with db.transaction() as uow:
        found = await content.questions_by_external_id(uow, "GIFT-DRY", ["G1", "G2", "G3"])
    assert sorted(found) == ["G1", "G3"]


async def test_changing_an_option_after_the_dry_run_asks_for_another_check(
    page: Page, base_url: str, db: Database, tmp_path: Path
) -> None:
    await author(page, base_url, db)
    gift = tmp_path / "ok.gift"
    gift.write_text(BROKEN_GIFT.replace("{=a ~b\n", "{=a ~b}\n"), encoding="utf-8")
    await page.goto(f"{base_url}/admin/import")
    await page.set_input_files("#f-file", gift)
    await page.select_option("#f-format", "gift")
    await page.fill("#f-certification", "GIFT-DRY")
    await page.locator("form[action='/admin/import'] button.primary").click()
    await page.wait_for_load_state("networkidle")
    button = page.locator("[data-import-button]")
    await expect(button).to_be_enabled()
    await page.select_option("#f-format", "aiken")
    await expect(button).to_be_disabled()
    await expect(page.locator("[data-stale-note]")).to_be_visible()
