"""Past papers, search and account mail pages in Chromium: axe, a phone's width and the
keyboard in both languages, and the whole reset flow with the mail read from the file
backend the live server writes to."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from playwright.async_api import Page

from certplatform.content import service as content
from certplatform.content.contracts import PaperItemSpec, PassRule, PastPaperSpec
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import DESKTOP, PHONE, axe_violations, no_horizontal_scroll, sign_in
from tests.support.exams import load

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CERT = "KR-INFO-ENGINEER"
NEW_PASSWORD = "violet harbour compass tea"


def _mail_to(mail_dir: Path, to: str) -> list[EmailMessage]:
    found = []
    for path in sorted((mail_dir / "live").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        if message["To"] == to:
            found.append(message)
    return found


async def _add_dated_paper(db: Database) -> None:
    """A paper named by year and round, for the screenshot of the grouping."""
    async with db.transaction() as uow:
        found = await content.find_questions(uow, certification_code=CERT, limit=3)
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
                    for q in found
                ),
            ),
            None,
        )


def _clear_mail_to(mail_dir: Path, to: str) -> None:
    """The live servers of both backends share the directory: drop earlier mail to `to`."""
    for path in (mail_dir / "live").glob("*.eml"):
        if email.message_from_bytes(path.read_bytes(), policy=default)["To"] == to:
            path.unlink()


async def _check(page: Page, path: str) -> None:
    for viewport in (DESKTOP, PHONE):
        await page.set_viewport_size(viewport)
        await page.goto(path)
        assert await axe_violations(page) == [], (path, viewport)
        assert await no_horizontal_scroll(page), (path, viewport)
    await page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_new_pages_pass_axe_fit_a_phone_and_work_by_keyboard(
    page: Page, base_url: str, db: Database, storage: LocalStorage, lang: str
) -> None:
    await load(db, storage, CERT)
    await page.context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    for path in (
        "/password/forgot",
        f"/certifications/{CERT}/papers",
        "/password/reset/not-a-real-link",
        "/email/confirm/not-a-real-link",
    ):
        await _check(page, f"{base_url}{path}")
    address = await make_user(db, "learner", f"pages-{lang}@example.com")
    await sign_in(page, base_url, address, PASSWORD)
    for path in (f"/certifications/{CERT}/papers", "/search?q=요구사항", "/settings"):
        await _check(page, f"{base_url}{path}")
        assert await page.get_attribute("html", "lang") == lang
    # By keyboard: the search box, then the first result opens as practice.
    await page.goto(f"{base_url}/search")
    await page.focus("#search-q")
    await page.keyboard.type("요구사항 개발")
    await page.keyboard.press("Enter")
    await page.wait_for_load_state("networkidle")
    assert "q=" in page.url
    first = page.locator("ol.results a").first
    await first.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/practice/[^/]+/0$"))
    # The papers page: Tab reaches "Sit as a timed exam", Enter opens the steps.
    await page.goto(f"{base_url}/certifications/{CERT}/papers")
    for _ in range(40):
        await page.keyboard.press("Tab")
        href = await page.evaluate("() => document.activeElement.getAttribute('href')")
        if href and href.startswith("/exam/prepare/paper/"):
            break
    else:
        raise AssertionError("no paper reached by Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/exam/prepare/paper/[^/]+/info$"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if lang == "en":
        await page.goto(f"{base_url}/certifications/{CERT}/papers")
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=SCREENSHOTS / "papers-phone-en.png", full_page=True)
    if lang == "ko":
        await _add_dated_paper(db)
        await page.goto(f"{base_url}/certifications/{CERT}/papers")
        await page.screenshot(path=SCREENSHOTS / "papers-desktop.png", full_page=True)
        await page.goto(f"{base_url}/search?q=요구사항")
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=SCREENSHOTS / "search-phone.png", full_page=True)
        await page.goto(f"{base_url}/settings")
        await page.screenshot(path=SCREENSHOTS / "settings-email-phone.png", full_page=True)


async def test_password_reset_in_the_browser_with_the_mailed_link(
    page: Page, base_url: str, db: Database, mail_dir: Path
) -> None:
    address = await make_user(db, "learner", "browser-reset@example.com")
    _clear_mail_to(mail_dir, address)
    await page.goto(f"{base_url}/signin")
    await page.click("a[href='/password/forgot']")
    await page.focus("#f-email")
    await page.keyboard.type(address)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await page.locator("[role=alert]").all_inner_texts() == []
    assert await page.locator("[role=status]").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "password-forgot-sent.png", full_page=True)
    [mail] = _mail_to(mail_dir, address)
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_-]+)", body.get_content())
    assert found, body.get_content()
    await page.goto(f"{base_url}{found[1]}")
    assert await axe_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "password-reset.png", full_page=True)
    await page.focus("#f-new_password")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/signin\?reset=1$"))
    assert await page.locator("[role=status]").count() == 1
    await sign_in(page, base_url, address, NEW_PASSWORD)
    assert page.url == f"{base_url}/"
    # The link was spent: opening it again says so.
    await page.goto(f"{base_url}{found[1]}")
    assert await page.locator("#f-new_password").count() == 0
    assert await page.locator("[role=alert]").count() == 1
