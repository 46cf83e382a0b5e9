"""The words of the pages as a Korean reader meets them: a status is 상태 (판정 is a pass or
fail), a count is 합계 (총점 is a score), an audit entry has a 대상 (과목 is a school
subject), a dry run is 모의 실행; retention reads in per cent everywhere; FCC choices are
A–D on practice pages as on the exam screen."""

from __future__ import annotations

from playwright.async_api import Page, expect

from certplatform.content import service as content
from certplatform.content.contracts import QuestionStatus
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import sign_in
from tests.support.content import choice_question


async def test_admin_pages_use_the_right_korean_words(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, "KR-WORDS", "용어")
        draft = choice_question("보기 중 짝수는?", ("1", "2", "3", "5"), key=1)
        await content.create_question(uow, storage, "KR-WORDS", draft, None)
    await sign_in(page, base_url, await make_user(db, "admin", "words@example.com"), PASSWORD)

    await page.goto(f"{base_url}/admin")
    await expect(page.locator("thead th").filter(has_text="합계")).to_have_count(1)
    await expect(page.locator("thead th").filter(has_text="총점")).to_have_count(0)
    await page.goto(f"{base_url}/admin/questions")
    await expect(page.locator("label[for=f-status]")).to_have_text("상태")
    await expect(page.locator("thead th").filter(has_text="판정")).to_have_count(0)
    await page.goto(f"{base_url}/admin/audit")
    await expect(page.locator("label[for=f-subject]")).to_have_text("대상")
    await expect(page.locator("thead th").filter(has_text="과목")).to_have_count(0)
    await page.goto(f"{base_url}/admin/regrade")
    await expect(page.locator("form button.primary")).to_have_text("모의 실행")


async def test_retention_reads_in_per_cent_and_fcc_choices_are_letters(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, "US-FCC-WORDS", "FCC words")
        draft = choice_question("Which is even?", ("1", "2", "3", "5"), key=1, external_id="T0A01")
        qid = (await content.create_question(uow, storage, "US-FCC-WORDS", draft, None)).id
        await content.set_status(uow, [qid], QuestionStatus.REVIEW, None)
        await content.set_status(uow, [qid], QuestionStatus.PUBLISHED, None)
    await sign_in(page, base_url, await make_user(db, "learner", "fcc@example.com"), PASSWORD)

    await page.goto(f"{base_url}/settings")
    await expect(page.locator("#f-retention")).to_have_value("90")
    await page.fill("#f-retention", "85")
    await page.locator("form[action='/settings'] button.primary").click()
    await page.wait_for_load_state("networkidle")
    await page.goto(f"{base_url}/reviews")
    await expect(page.get_by_text("목표 기억률: 85%")).to_be_visible()

    await page.goto(f"{base_url}/practice/start?certification=US-FCC-WORDS")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".choice .choice-num")).to_have_text(["A", "B", "C", "D"])
    await page.locator(".choice").nth(1).click()
    await page.locator("form button.primary").first.click()
    await expect(page.locator(".answer-summary dd").first).to_have_text("B")
