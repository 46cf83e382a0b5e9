"""Item statistics per exam form in a real browser: Korean and English, axe, a 360 px
phone, the keyboard, and the screenshot docs/screenshots/admin-form-item-report.png."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import BrowserContext, Page, expect

from certplatform.analytics.calibration import recalibrate
from certplatform.app import relay_events
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import PHONE, SCREENSHOTS, axe_violations, no_horizontal_scroll, sign_in
from tests.support.forms import CERT, sit_paper


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_form_item_report_passes_axe_fits_a_phone_and_is_reached_by_keyboard(
    app: FastAPI,
    client: httpx.AsyncClient,
    context: BrowserContext,
    page: Page,
    base_url: str,
    db: Database,
    storage: LocalStorage,
    backend: str,
    lang: str,
) -> None:
    sat = await sit_paper(client, db, storage)
    await relay_events(app)
    await recalibrate(db, f"calibrate:pages-{lang}")
    email = await make_user(db, "author", f"form-author-{lang}@example.com")
    await context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    await sign_in(page, base_url, email, PASSWORD)

    # From the item statistics page to the form list, to the form's report.
    await page.goto(f"{base_url}/admin/items?certification={CERT}")
    await expect(page.locator(".calibration button")).to_have_count(1)  # Recalibrate now
    assert await axe_violations(page) == []
    shoot = lang == "ko" and backend == "sqlite" and os.environ.get("SCREENSHOTS") == "1"
    if shoot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "admin-items-calibration.png")
    per_form = "시험지별" if lang == "ko" else "Per exam form"
    await page.click(f"a:has-text('{per_form}')")
    await expect(page.locator("tbody tr")).to_have_count(1)
    assert await axe_violations(page) == []
    await page.click("tbody a")
    await page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/admin/forms/{sat.paper}/items")
    await expect(page.locator("table tbody tr")).to_have_count(len(sat.questions))
    stats = page.locator(".stats li")
    await expect(stats).to_have_count(8)
    await expect(stats.first).to_contain_text("12")
    assert await axe_violations(page) == []
    if shoot:
        await page.screenshot(path=SCREENSHOTS / "admin-form-item-report.png", full_page=True)

    # The wide table scrolls inside its own region, which the keyboard can reach.
    region = page.locator(".table-wrap[role=region]")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await region.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the table's scroll region is not reachable by Tab")

    await page.set_viewport_size(PHONE)
    await page.reload()
    assert await no_horizontal_scroll(page)
    assert await axe_violations(page) == []
