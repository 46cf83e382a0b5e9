"""The progress dashboard in a real browser: reached from home and the header, its charts
and tables, axe in Korean and English, a 360 px phone, and the "study next" button."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from certplatform.analytics.store import study_day
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from tests.analytics.test_pipeline import CERT, learner, practise
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    header_rows,
    no_horizontal_scroll,
    sign_in,
)
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key


async def _studied(base_url: str, db: Database, storage: LocalStorage, name: str) -> str:
    """A learner with an exam date, a few practice answers and one mock exam, all relayed
    into the analytics store by the live server. Returns the email."""
    await load(db, storage, CERT)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        me = await learner(client, db, name)
        exam_day = study_day(utcnow()) + timedelta(days=21)
        await client.put(
            "/api/v1/learning/settings",
            json={"desired_retention": 0.9, "exam_dates": {CERT: exam_day.isoformat()}},
            headers=me,
        )
        await practise(client, db, me, right=5, wrong=3)
        view = (
            await client.post(
                "/api/v1/attempts",
                json={"blueprint_id": await blueprint_id(db, CERT)},
                headers=me,
            )
        ).json()
        keys = await keys_of(db, view)
        answered = view["items"][:30]  # some subjects stay under 20 answers
        for item in answered:
            p = item["position"]
            choice = keys[p][0] if p % 4 else wrong_key(item, keys[p])
            await save(client, me, view["id"], p, choice)
        submitted = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=me)
        assert submitted.status_code == 200, submitted.text
        total = 8 + len(answered)
        for _ in range(100):  # the server's relay runs every half second
            board = (await client.get("/api/v1/analytics/dashboard", headers=me)).json()
            if board.get("answered_today") == total and board.get("scores"):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"the store never caught up: {board}")
    return f"{name}@example.com"


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_dashboard_from_home_passes_axe_fits_a_phone_and_starts_the_next_practice(
    context: BrowserContext,
    page: Page,
    base_url: str,
    db: Database,
    storage: LocalStorage,
    lang: str,
) -> None:
    email = await _studied(base_url, db, storage, f"board-{lang}")
    await context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    await sign_in(page, base_url, email, "correct horse battery")
    await page.goto(f"{base_url}/")
    await page.click("main a[href='/progress']")
    await page.wait_for_url(f"{base_url}/progress")
    header_link = page.locator("header nav a[href='/progress']")
    await expect(header_link).to_have_attribute("aria-current", "page")
    assert await page.get_attribute("html", "lang") == lang
    await expect(page.locator("text=D-21")).to_be_visible()
    # Four charts at least (day, reviews ahead, scores, one per studied subject), each
    # with its numbers in a table.
    charts = await page.locator("svg.chart").count()
    assert charts >= 4
    assert await page.locator("details.chart-data table").count() == charts
    assert await axe_violations(page) == []
    await page.locator("details.chart-data summary").first.click()
    assert await axe_violations(page) == [], "with a data table open"
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), "the dashboard scrolls sideways at 360 px"
    assert await header_rows(page) <= 2
    assert await axe_violations(page) == [], "on a phone"
    await page.set_viewport_size(DESKTOP)

    # Too little data is said plainly; the button starts practice in the suggested subject.
    text = "자료가 부족합니다" if lang == "ko" else "Too little data"
    await expect(page.locator(f"text={text}")).to_be_visible()
    button = page.locator("a.button[href*='subject=']")
    href = await button.get_attribute("href")
    assert href is not None
    assert "mode=all" in href
    await button.click()
    await page.wait_for_url(lambda url: "/practice/" in url and "start" not in url)


@pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="set SCREENSHOTS=1")
async def test_screenshots(
    context: BrowserContext, page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    email = await _studied(base_url, db, storage, "shots")
    await sign_in(page, base_url, email, "correct horse battery")
    await page.goto(f"{base_url}/progress")
    await page.screenshot(path=SCREENSHOTS / "progress-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SCREENSHOTS / "progress-phone.png", full_page=True)
