"""The room's video call in two real Chromium pages with fake camera and microphone
(ADR 0024): signalled over /study, the WebRTC connection comes up and media flows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, sign_in
from tests.web.test_room_pages import _principal, _screenshot

FAKE_MEDIA = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

CONNECTED = """() => {
  const peers = Object.values(document.getElementById('room').studyCall.peers);
  return peers.length === 1 && peers[0].connectionState === 'connected';
}"""

INBOUND_BYTES = """async () => {
  const pc = Object.values(document.getElementById('room').studyCall.peers)[0];
  let bytes = 0;
  (await pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp') bytes += r.bytesReceived; });
  return bytes;
}"""


@pytest_asyncio.fixture
async def media_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MEDIA]
        )
        yield chromium
        await chromium.close()


async def _in_room(browser: Browser, base_url: str, email: str, room_id: str) -> Page:
    context = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = await context.new_page()
    await sign_in(page, base_url, email, PASSWORD)
    await page.goto(f"{base_url}/rooms/{room_id}")
    await expect(page.locator("#room-status")).to_have_text("연결되었습니다.")
    return page


async def test_two_pages_connect_and_receive_media(
    media_browser: Browser, base_url: str, db: Database
) -> None:
    owner_email = await make_user(db, "learner", "call-owner@example.com")
    guest_email = await make_user(db, "learner", "call-guest@example.com")
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow,
            await _principal(db, owner_email),
            RoomIn(name="통화", visibility=Visibility.PUBLIC),
        )
    first = await _in_room(media_browser, base_url, owner_email, room.id)
    second = await _in_room(media_browser, base_url, guest_email, room.id)
    await first.click("#call-join")
    await expect(first.locator("#call-leave")).to_be_visible()
    await second.click("#call-join")
    for page in (first, second):
        await page.wait_for_function(CONNECTED, timeout=20_000)
    for page in (first, second):
        await page.wait_for_function(f"async () => (await ({INBOUND_BYTES})()) > 0", timeout=20_000)
        assert await page.evaluate(INBOUND_BYTES) > 0
        await expect(page.locator("#videos figure")).to_have_count(2)  # self and the other
    await _screenshot(first, "rooms-call-desktop.png")
    # Leaving closes the other side's connection and its tile.
    await second.click("#call-leave")
    await expect(first.locator("#videos figure")).to_have_count(1)
    assert (
        await first.evaluate(
            "() => Object.keys(document.getElementById('room').studyCall.peers).length"
        )
        == 0
    )
