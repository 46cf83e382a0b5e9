"""Browser-test fixtures: one live server per database backend, one Chromium per run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.support.browser import DESKTOP, launch, live_server


@pytest.fixture(scope="session")
def base_url(database_url: str, media_dir: Path, mail_dir: Path) -> Iterator[str]:
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "MAIL_BACKEND": "file",
        "MAIL_DIR": str(mail_dir / "live"),
        "LOGIN_LIMIT_IP": "100000/minute",
        "LOGIN_LIMIT_ACCOUNT": "1000/minute",
        "LOGIN_LIMIT_ACCOUNT_IP": "1000/minute",
        "SIGNUP_LIMIT_IP": "1000/minute",
        "SWEEPER_INTERVAL": "1",
        # Tests empty the database between them; checkpoints would outlive their entries.
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "CALIBRATION_INTERVAL": "0",  # tests calibrate explicitly
    }
    with live_server(env) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
