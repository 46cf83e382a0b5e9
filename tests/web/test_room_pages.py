"""Study room pages in a real browser (ADR 0024): a hostile chat message, sent live over the
socket from another browser, shows as text; the pages pass axe in Korean and English, fit
a 360 px screen and work from the keyboard."""

from __future__ import annotations

import os
import re

from playwright.async_api import Browser, Page, expect

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    no_horizontal_scroll,
    sign_in,
)

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


async def _fits(page: Page, where: str, shot: str) -> None:
    assert await axe_violations(page) == [], where
    await _screenshot(page, f"{shot}-desktop.png")
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), f"{where} scrolls sideways at 360 px"
    assert await axe_violations(page) == [], f"{where} at 360 px"
    await _screenshot(page, f"{shot}-phone.png")
    await page.set_viewport_size(DESKTOP)


async def test_a_hostile_live_message_shows_as_text_and_the_pages_pass_axe(
    page: Page, browser: Browser, base_url: str, db: Database
) -> None:
    owner_email = await make_user(db, "learner", "room-owner@example.com")
    member_email = await make_user(db, "learner", "room-member@example.com")
    owner = await _principal(db, owner_email)
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow, owner, RoomIn(name="정보처리기사 저녁 스터디", visibility=Visibility.PUBLIC)
        )

    await sign_in(page, base_url, owner_email, PASSWORD)
    await page.goto(f"{base_url}/rooms")
    await expect(page.locator(".room-list li")).to_have_count(1)
    await _fits(page, "room list", "rooms-list")

    await page.goto(f"{base_url}/rooms/{room.id}")
    await expect(page.locator("#people li")).to_have_count(1)

    # The member types in another browser; the owner's page receives it over the socket.
    other = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    try:
        member = await other.new_page()
        await sign_in(member, base_url, member_email, PASSWORD)
        await member.goto(f"{base_url}/rooms/{room.id}")
        await expect(page.locator("#people li")).to_have_count(2)
        await member.fill("#say-body", HOSTILE)
        await member.press("#say-body", "Enter")
        await expect(member.locator("#say-body")).to_have_value("")
    finally:
        await other.close()

    shown = page.locator("#messages li.message").last
    await expect(shown.locator(".message-body")).to_contain_text(
        "<script>window.pwned = 1</script>"
    )
    await expect(shown.locator(".message-body strong")).to_have_text("굵게")
    assert await page.locator("#messages script, #messages img").count() == 0
    assert await page.evaluate("() => window.pwned === undefined")
    await expect(page.locator("#people li")).to_have_count(1)  # the member left

    # Keyboard only: from the message box, Enter sends; the timer starts from its button.
    await page.focus("#say-body")
    await page.keyboard.type("**안녕하세요**")
    await page.keyboard.press("Enter")
    await expect(
        page.locator("#messages li.message").last.locator(".message-body strong")
    ).to_have_text("안녕하세요")
    await page.focus("#timer-start")
    await page.keyboard.press("Enter")
    await expect(page.locator("#timer-clock")).to_have_text(re.compile(r"^2[45]:\d\d$"))
    await _fits(page, "room", "rooms-room")

    await page.context.add_cookies([{"name": "lang", "value": "en", "url": base_url}])
    await page.reload()
    await expect(page.locator("h2#chat-h")).to_have_text("Chat")
    await expect(page.locator("#messages li.message")).to_have_count(2)
    assert await axe_violations(page) == [], "room in English"
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), "room in English at 360 px"
    await page.set_viewport_size(DESKTOP)
