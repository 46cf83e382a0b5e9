"""Account pages in a real browser: sign in, language switch, guards, headers, axe."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page

from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import DESKTOP, PHONE, axe_violations, no_horizontal_scroll, sign_in
from tests.support.exams import load


async def test_sign_in_shows_home_and_the_language_switch_sticks(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    email = await make_user(db, "learner", "web@example.com")
    await sign_in(page, base_url, email, PASSWORD)
    assert page.url == f"{base_url}/"
    assert await page.get_attribute("html", "lang") == "ko"
    assert await axe_violations(page) == []
    await page.click("button[name=lang][value=en]")
    await page.wait_for_load_state("networkidle")
    assert await page.get_attribute("html", "lang") == "en"
    await page.goto(f"{base_url}/certifications")
    assert await page.get_attribute("html", "lang") == "en"
    assert await axe_violations(page) == []


async def test_wrong_password_shows_an_error_and_pages_need_sign_in(
    page: Page, base_url: str, db: Database
) -> None:
    await make_user(db, "learner", "web2@example.com")
    await sign_in(page, base_url, "web2@example.com", "wrong password")
    assert "/signin" in page.url
    assert await page.locator("[role=alert]").count() == 1
    await page.goto(f"{base_url}/settings")
    assert "/signin?next=/settings" in page.url


async def test_security_headers_and_csrf_on_forms(base_url: str, db: Database) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        reply = await http.get("/signin")
        forged = await http.post("/signin", data={"email": "a@example.com", "password": "x"})
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert reply.headers["referrer-policy"] == "same-origin"
    assert forged.status_code == 403


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_learner_pages_pass_axe_and_fit_a_phone(
    page: Page, base_url: str, db: Database, storage: LocalStorage, lang: str
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    await page.context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    anonymous = ["/", "/signin", "/signup", "/certifications", "/certifications/KR-INFO-ENGINEER"]
    signed_in = ["/", "/certifications/KR-INFO-ENGINEER", "/settings"]
    for viewport in (DESKTOP, PHONE):
        await page.set_viewport_size(viewport)
        for path in anonymous:
            await page.goto(f"{base_url}{path}")
            assert await page.get_attribute("html", "lang") == lang
            assert await axe_violations(page) == [], (path, viewport)
            assert await no_horizontal_scroll(page), (path, viewport)
    email = await make_user(db, "learner", f"axe-{lang}@example.com")
    await sign_in(page, base_url, email, PASSWORD)
    for viewport in (DESKTOP, PHONE):
        await page.set_viewport_size(viewport)
        for path in signed_in:
            await page.goto(f"{base_url}{path}")
            assert await axe_violations(page) == [], (path, viewport)
            assert await no_horizontal_scroll(page), (path, viewport)
