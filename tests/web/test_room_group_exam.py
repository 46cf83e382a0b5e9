"""A group mock exam in two real Chromium pages (ADR 0030): the owner starts it from the
room with the keyboard, the member sits it on the normal exam page while the owner's room
shows "문항 n/N", both submit, and the debrief shows the group's rates; the pages pass axe
in Korean and English and fit 360 px."""

from __future__ import annotations

import re

from playwright.async_api import Browser, BrowserContext, Page, expect

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import DESKTOP, PHONE, axe_violations, no_horizontal_scroll, sign_in
from tests.support.exams import keys_of, load
from tests.web.test_exam_pages import all_saved, api_view, choice
from tests.web.test_room_pages import _principal, _screenshot

FCC = "US-FCC-TECHNICIAN"
CONNECTED = "연결되었습니다."


async def _in_room(context: BrowserContext, base_url: str, email: str, room_id: str) -> Page:
    page = await context.new_page()
    await sign_in(page, base_url, email, PASSWORD)
    await page.goto(f"{base_url}/rooms/{room_id}")
    await expect(page.locator("#room-status")).to_have_text(CONNECTED)
    return page


async def _sit(exam: Page, base_url: str, db: Database, right: int) -> None:
    """Answer the first `right` questions by the key on the exam page, then submit."""
    await exam.wait_for_load_state("networkidle")
    attempt = exam.url.rsplit("/", 1)[-1]
    keys = await keys_of(db, await api_view(exam, base_url, attempt))
    for n in range(1, right + 1):
        await exam.click(choice(n, keys[n][0]))
    await all_saved(exam, attempt)
    await exam.click("[data-open-submit]")
    await exam.locator("#dlg-submit [data-confirm-submit]").click()
    await exam.wait_for_url(f"**/exam/{attempt}/result")


async def _fits(page: Page, where: str, shot: str) -> None:
    assert await axe_violations(page) == [], where
    await _screenshot(page, f"{shot}-desktop.png")
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), f"{where} scrolls sideways at 360 px"
    assert await axe_violations(page) == [], f"{where} at 360 px"
    await _screenshot(page, f"{shot}-phone.png")
    await page.set_viewport_size(DESKTOP)


async def test_owner_and_member_sit_a_group_exam_and_see_the_debrief(
    browser: Browser, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    owner_email = await make_user(db, "learner", "group-web-owner@example.com")
    member_email = await make_user(db, "learner", "group-web-member@example.com")
    member_id = (await _principal(db, member_email)).user_id
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow,
            await _principal(db, owner_email),
            RoomIn(name="FCC 함께 풀기", visibility=Visibility.PUBLIC, certification_code=FCC),
        )
    owner_ctx = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    member_ctx = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    try:
        owner = await _in_room(owner_ctx, base_url, owner_email, room.id)
        member = await _in_room(member_ctx, base_url, member_email, room.id)
        await expect(owner.locator("#people li")).to_have_count(2)
        await expect(owner.locator("#group-status")).to_have_text("진행 중인 모의고사가 없습니다.")
        assert await member.locator("#group-start").count() == 0  # only the owner starts
        assert await owner.evaluate("document.getElementById('room').iceServers") == []

        # The owner starts it from the keyboard; both rooms show both members at 0/35.
        await owner.focus("#group-start")
        await owner.keyboard.press("Enter")
        for page in (owner, member):
            await expect(page.locator("#group-open")).to_be_visible()
            await expect(page.locator("#group-people li")).to_have_count(2)
            await expect(page.locator("#group-people .group-count").first).to_have_text("문항 0/35")
        await expect(owner.locator("#group-form")).to_be_hidden()
        await expect(owner.locator("#group-status")).to_contain_text("2명 응시 중")

        # The member sits it on the normal exam page; the owner's room follows the counts.
        exam_url = await member.get_attribute("#group-open", "href")
        assert exam_url
        assert re.fullmatch(r"/exam/[0-9a-f]{32}", exam_url)
        await member.click("#group-open")
        await member.wait_for_url(f"**{exam_url}")
        await member.wait_for_load_state("networkidle")
        attempt = exam_url.rsplit("/", 1)[-1]
        keys = await keys_of(db, await api_view(member, base_url, attempt))
        for n in range(1, 4):
            await member.click(choice(n, keys[n][0]))
        await all_saved(member, attempt)
        counted = owner.locator(f"#group-people li[data-user='{member_id}'] .group-count")
        await expect(counted).to_have_text("문항 3/35")
        await _fits(owner, "room with a group exam", "room-group-exam-progress")

        # Both submit (the owner from a second tab, so the room page stays open).
        for n in range(4, 31):
            await member.click(choice(n, keys[n][0]))
        await all_saved(member, attempt)
        await member.click("[data-open-submit]")
        await member.locator("#dlg-submit [data-confirm-submit]").click()
        await member.wait_for_url(f"**/exam/{attempt}/result")
        await expect(owner.locator(f"#group-people li[data-user='{member_id}']")).to_contain_text(
            "제출함"
        )
        owner_exam = await owner_ctx.new_page()
        await owner_exam.goto(base_url + (await owner.get_attribute("#group-open", "href") or ""))
        await _sit(owner_exam, base_url, db, right=20)

        # Every sheet graded: the room says so and links to the debrief.
        await expect(owner.locator("#group-status")).to_have_text(
            "함께 보는 모의고사가 끝났습니다."
        )
        await expect(owner.locator("#group-debrief")).to_be_visible()
        await expect(owner.locator("#group-form")).to_be_visible()  # another may start
        await member.goto(f"{base_url}/rooms/{room.id}")
        await expect(member.locator("#group-debrief")).to_be_visible()
        await member.click("#group-debrief")
        await expect(member.locator("h1")).to_have_text("모의고사 결과 분석")
        await expect(member.locator("#group-rates tbody tr")).to_have_count(35)
        await expect(member.locator("#my-score")).to_contain_text("85.7")  # 30 of 35
        # Questions 31–35 nobody answered: the five most missed, in the review queue.
        await expect(member.locator("#most-missed li")).to_have_count(5)
        await expect(member.locator("#most-missed li").first).to_contain_text("31번 문항 · 0%")
        await _fits(member, "group exam debrief", "room-group-exam-debrief")

        await member.context.add_cookies([{"name": "lang", "value": "en", "url": base_url}])
        await member.reload()
        await expect(member.locator("h1")).to_have_text("Group exam debrief")
        assert await axe_violations(member) == [], "debrief in English"
        await member.goto(f"{base_url}/rooms/{room.id}")
        await expect(member.locator("#group-status")).to_have_text("The group exam has finished.")
        await expect(member.locator("#group-people .group-count").first).to_have_text(
            re.compile(r"^Question \d+/35$")
        )
        assert await axe_violations(member) == [], "room in English"
        await member.set_viewport_size(PHONE)
        assert await no_horizontal_scroll(member), "room in English at 360 px"
    finally:
        await owner_ctx.close()
        await member_ctx.close()
