"""The discussion page and the error-report queue in a real browser: hostile Markdown shows
as text, the pages pass axe and fit a 360 px screen."""

from __future__ import annotations

import os

from playwright.async_api import Page, expect

from certplatform.community import service as community
from certplatform.community.contracts import CommentIn, ErrorReason, ErrorReportIn
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    no_horizontal_scroll,
    sign_in,
)
from tests.support.community import bank

HOSTILE = '<script>window.pwned = 1</script> **굵게** <img src=x onerror="window.pwned=2">'


async def _principal(db: Database, email: str) -> Principal:
    async with db.transaction() as uow:
        user = await identity.find_user(uow, email)
    assert user is not None
    return Principal(user.id, user.email, user.role, user.display_name, "bearer", "test")


async def _screenshot(page: Page, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / name, full_page=True)


async def _fits(page: Page, where: str) -> None:
    assert await axe_violations(page) == [], where
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), f"{where} scrolls sideways at 360 px"
    assert await axe_violations(page) == [], f"{where} at 360 px"
    await page.set_viewport_size(DESKTOP)


async def test_hostile_comment_shows_as_text_and_the_pages_pass_axe(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    questions = await bank(db, storage)
    learner = await make_user(db, "learner", "reader-community@example.com")
    other = await make_user(db, "learner", "writer-community@example.com")
    async with db.transaction() as uow:
        limiter = community.CommunityLimiter("100/minute", "100/minute")
        writer = await _principal(db, other)
        await community.post_comment(
            uow,
            limiter,
            writer,
            questions.elsewhere,
            CommentIn(body="전력은 $P = VI$ 입니다.\n\n- 전압\n- 전류"),
        )
        await community.file_error_report(
            uow,
            limiter,
            writer,
            questions.elsewhere,
            ErrorReportIn(reason=ErrorReason.WRONG_KEY, note="보기 1이 정답이 아닙니다."),
        )

    await sign_in(page, base_url, learner, PASSWORD)
    await page.goto(f"{base_url}/questions/{questions.elsewhere}/discussion")
    await page.fill("#f-body", HOSTILE)
    await page.click("form[action$='/discussion'] button[type=submit]")
    await page.wait_for_load_state("networkidle")
    mine = page.locator(".comment").last
    await expect(mine.locator(".comment-body")).to_contain_text("<script>window.pwned = 1</script>")
    await expect(mine.locator(".comment-body strong")).to_have_text("굵게")
    assert await page.locator(".comments script, .comments img").count() == 0
    assert await page.evaluate("() => window.pwned === undefined")
    await _fits(page, "discussion")
    await _screenshot(page, "community-discussion.png")

    author = await make_user(db, "author", "author-community@example.com")
    await page.context.clear_cookies()
    await sign_in(page, base_url, author, PASSWORD)
    await page.goto(f"{base_url}/admin/reports")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("보기 1이 정답이 아닙니다.")
    await _fits(page, "report queue")
    await _screenshot(page, "community-reports.png")
