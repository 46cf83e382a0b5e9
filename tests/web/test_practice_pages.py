"""Practice and remediation pages in a real browser: keyboard practice with instant feedback,
the wrong-answer note, bookmarks, the review queue, the no-JavaScript path, axe and phones."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import update

from certplatform.content import service as content
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import ReviewCard
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    header_rows,
    no_horizontal_scroll,
    sign_in,
)
from tests.support.exams import keys_of, load

CERT = "KR-INFO-ENGINEER"
LONG_CERTIFICATION_NAME = (
    "전기공사산업기사 필기 — 전기응용 및 공사재료 · 전력공학 · 회로이론 및 제어공학"
)
QUESTION_PATH = re.compile(r"^/practice/([0-9a-f]+)/(\d+)$")
SUBJECT_START = f"/practice/start?certification={CERT}&subject=S3"


def _where(page: Page) -> tuple[str, int]:
    match = QUESTION_PATH.match(urlsplit(page.url).path)
    assert match, page.url
    return match[1], int(match[2])


async def _wait_for_question(page: Page) -> None:
    await page.wait_for_url(lambda url: bool(QUESTION_PATH.match(urlsplit(url).path)))


async def _key(page: Page, base_url: str, db: Database) -> tuple[dict[str, Any], list[str]]:
    """The question on screen and its key, found on the server as the exam tests do: the
    shown choices matched by text against the current version's right choices."""
    session_id, position = _where(page)
    reply = await page.request.get(
        f"{base_url}/api/v1/practice/sessions/{session_id}/questions/{position}"
    )
    assert reply.ok, await reply.text()
    question: dict[str, Any] = (await reply.json())["question"]
    keys = await keys_of(db, {"items": [{"position": position, "question": question}]})
    return question, keys[position]


def _wrong(question: dict[str, Any], key: list[str]) -> str:
    return next(c["label"] for c in question["choices"] if c["label"] not in key)


async def _answer_by_clicking(page: Page, label: str) -> None:
    await page.click(f"label.choice:has(input[value='{label}'])")
    await page.click("form[data-answer-form] button[type=submit]")
    await expect(page.locator("#feedback-h")).to_be_visible()


async def _make_all_due(db: Database) -> None:
    async with db.transaction() as uow:
        await uow.session.execute(update(ReviewCard).values(due_at=utcnow() - timedelta(hours=1)))


async def _learner(
    page: Page, base_url: str, db: Database, storage: LocalStorage, email: str
) -> None:
    await load(db, storage, CERT)
    await make_user(db, "learner", email)
    await sign_in(page, base_url, email, PASSWORD)


@pytest_asyncio.fixture
async def no_js(browser: Browser) -> AsyncIterator[Page]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="ko-KR", java_script_enabled=False)
    yield await ctx.new_page()
    await ctx.close()


async def test_keyboard_practice_then_the_note_bookmarks_and_reviews(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "practice@example.com")
    errors: list[str] = []  # a CSP violation or a script error shows up here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{base_url}/certifications/{CERT}")
    await page.click("a[href$='subject=S3']")
    await _wait_for_question(page)
    session_id, position = _where(page)
    assert position == 0
    await expect(page.locator(".q-progress")).to_contain_text("1 / 20")
    await expect(page.locator("[data-kbd-hint]")).to_be_visible()

    # Right answer with the keyboard: the digit chooses, Enter checks, HTMX swaps feedback in.
    question, key = await _key(page, base_url, db)
    assert len(key) == 1
    await page.evaluate("() => { window.stillHere = true; }")
    await page.keyboard.press(key[0])
    assert await page.is_checked(f"input[name=choice][value='{key[0]}']")
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback")).to_have_class(re.compile(r"\bright\b"))
    assert await page.evaluate("() => window.stillHere === true"), "the page reloaded"
    await expect(page.locator("#feedback-h")).to_be_focused()
    await expect(page.locator(".choice.is-key .choice-num")).to_have_text(key[0])
    await expect(page.locator(".explanation")).not_to_be_empty()
    await expect(page.locator(".next-review")).to_be_visible()
    await page.keyboard.press("n")
    await page.wait_for_url(f"**/practice/{session_id}/1")

    # A wrong answer: marked as mine, the key shown, and into the wrong-answer note.
    question, key = await _key(page, base_url, db)
    wrong = _wrong(question, key)
    await page.keyboard.press(wrong)
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback")).to_have_class(re.compile(r"\bwrong\b"))
    await expect(page.locator(".choice.is-wrong .choice-num")).to_have_text(wrong)
    await expect(page.locator(".choice.is-key .choice-num")).to_have_text(key[0])
    await expect(page.locator(".choice.is-key .tag-key")).to_be_visible()  # text, not colour
    await expect(page.locator(".note-status")).to_be_visible()
    await expect(page.locator(".note-badge")).to_be_visible()

    # Bookmark it in place; focus stays on the toggle.
    await page.click(".bookmark")
    await expect(page.locator(".bookmark")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".bookmark")).to_be_focused()
    qid = question["question_id"]

    # 오답노트: the question with its count, and a memo saved inline.
    await page.goto(f"{base_url}/notes")
    note = page.locator(f"[id='note-{qid}']")
    await expect(note).to_be_visible()
    await expect(page.locator(".item")).to_have_count(1)
    await note.locator("textarea").fill("제2정규형부터 다시 보기")
    await note.locator(".memo-form button[type=submit]").click()
    await expect(note.locator(".saved")).to_be_visible()
    await page.reload()
    await expect(page.locator(f"[id='note-{qid}'] textarea")).to_have_value(
        "제2정규형부터 다시 보기"
    )
    assert "mode=wrong" in (await page.get_attribute(".group-head a", "href") or "")

    # Bookmarks: the bookmarked question, and practise them.
    await page.goto(f"{base_url}/bookmarks")
    await expect(page.locator(f"[id='mark-{qid}']")).to_be_visible()
    await page.click(".group-head a")
    await _wait_for_question(page)
    await expect(page.locator(".q-progress")).to_contain_text("1 / 1")

    # Reviews: once due, both answered questions are listed and can be reviewed.
    await _make_all_due(db)
    await page.goto(f"{base_url}/reviews")
    await expect(page.locator(".cert-group .item")).to_have_count(2)
    await expect(page.locator("a[href='/settings']").first).to_be_visible()
    await page.click(".group-head a")
    await _wait_for_question(page)
    await expect(page.locator(".q-progress")).to_contain_text("1 / 2")
    assert errors == []


async def test_shortcuts_leave_typing_alone_and_the_last_question_finishes(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "keys@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}&mode=all&order=random")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    await page.goto(f"{base_url}/practice/{session_id}/19")
    # Keys typed into a text field stay text.
    await page.evaluate(
        """() => {
            const probe = document.createElement('input');
            probe.type = 'text';
            probe.id = 'probe';
            probe.setAttribute('aria-label', 'probe');
            document.getElementById('practice-card').append(probe);
        }"""
    )
    await page.focus("#probe")
    await page.keyboard.type("3n")
    assert await page.input_value("#probe") == "3n"
    assert not await page.is_checked("input[name=choice][value='3']")
    assert page.url.endswith(f"/practice/{session_id}/19")

    _, key = await _key(page, base_url, db)
    await page.focus("#main")
    await page.keyboard.press(key[0])
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback.right")).to_be_visible()
    await expect(page.locator("a[data-next]")).to_have_attribute(
        "href", f"/practice/{session_id}/done"
    )
    await page.keyboard.press("n")
    await page.wait_for_url(f"**/practice/{session_id}/done")
    await expect(page.locator(".link-list a")).to_have_count(3)


async def test_touch_screens_get_no_keyboard_hints(
    browser: Browser, base_url: str, db: Database, storage: LocalStorage
) -> None:
    phone = await browser.new_context(
        viewport=PHONE, locale="ko-KR", has_touch=True, is_mobile=True
    )
    page = await phone.new_page()
    await _learner(page, base_url, db, storage, "touch@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    await expect(page.locator("[data-kbd-hint]")).to_be_hidden()
    await phone.close()


async def test_everything_works_without_javascript(
    no_js: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    page = no_js
    await _learner(page, base_url, db, storage, "nojs@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    await expect(page.locator("[data-kbd-hint]")).to_be_hidden()

    # A blank answer is refused with a message, not graded as wrong.
    token = await page.get_attribute("meta[name=csrf-token]", "content")
    blank = await page.request.post(
        f"{base_url}/practice/{session_id}/0/answer", form={"csrf_token": token or ""}
    )
    assert blank.status == 422
    assert "alert" in await blank.text()

    question, key = await _key(page, base_url, db)
    await _answer_by_clicking(page, _wrong(question, key))
    assert page.url.endswith(f"/practice/{session_id}/0/answer")
    await expect(page.locator(".feedback.wrong")).to_be_visible()
    await expect(page.locator(".choice.is-key .choice-num")).to_have_text(key[0])

    await page.click(".bookmark")
    await page.wait_for_url(f"**/practice/{session_id}/0")
    await expect(page.locator(".bookmark")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".note-badge")).to_be_visible()
    await page.click("a[data-next]")  # before answering it skips
    await page.wait_for_url(f"**/practice/{session_id}/1")

    qid = question["question_id"]
    await page.goto(f"{base_url}/notes?certification={CERT}")
    note = page.locator(f"[id='note-{qid}']")
    await note.locator("textarea").fill("memo without js")
    await note.locator(".memo-form button[type=submit]").click()
    await page.wait_for_url(re.compile(r"/notes\?certification=.*saved="))
    await expect(page.locator(f"[id='note-{qid}'] .saved")).to_be_visible()
    await expect(page.locator(f"[id='note-{qid}'] textarea")).to_have_value("memo without js")
    await page.click(f"[id='note-{qid}'] .item-remove button")
    await page.wait_for_url(re.compile(r"/notes\?.*removed=1"))
    await expect(page.locator(".alert-success")).to_be_visible()
    assert await page.locator(".item").count() == 0

    await page.goto(f"{base_url}/bookmarks")
    await page.click(f"[id='mark-{qid}'] .item-remove button")
    await page.wait_for_url("**/bookmarks")
    assert await page.locator(".item").count() == 0


async def test_nothing_to_practise_is_explained_with_links_back(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "empty@example.com")
    for mode in ("wrong", "bookmarked", "due"):
        reply = await page.goto(f"{base_url}/practice/start?certification={CERT}&mode={mode}")
        assert reply is not None
        assert reply.status == 200
        assert urlsplit(page.url).path == "/practice/start"
        await expect(page.locator("h1")).to_be_visible()
        await expect(page.locator(f"a[href='/certifications/{CERT}']").last).to_be_visible()
        assert await page.locator(".link-list a").count() >= 2
    reply = await page.goto(f"{base_url}/practice/start?certification={CERT}&mode=nonsense")
    assert reply is not None
    assert reply.status == 422


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_every_page_passes_axe_and_fits_a_phone(
    context: BrowserContext,
    page: Page,
    base_url: str,
    db: Database,
    storage: LocalStorage,
    lang: str,
) -> None:
    await _learner(page, base_url, db, storage, f"axe-{lang}@example.com")
    await context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    async with db.transaction() as uow:  # the filters list every certification by name
        await content.ensure_certification(uow, "KR-LONG-NAME", LONG_CERTIFICATION_NAME)

    async def check(name: str) -> None:
        assert await page.get_attribute("html", "lang") == lang, name
        assert await axe_violations(page) == [], name
        await page.set_viewport_size(PHONE)
        assert await no_horizontal_scroll(page), f"{name} scrolls sideways at 360 px"
        assert await header_rows(page) <= 2, f"{name}: the header takes more than two rows"
        assert await axe_violations(page) == [], f"{name} on a phone"
        await page.set_viewport_size(DESKTOP)

    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    await check("question")
    question, key = await _key(page, base_url, db)
    await _answer_by_clicking(page, _wrong(question, key))
    await page.click(".bookmark")
    await expect(page.locator(".bookmark")).to_have_attribute("aria-pressed", "true")
    await check("feedback")
    await page.goto(f"{base_url}/practice/{session_id}/done")
    await check("done")
    await page.goto(f"{base_url}/practice/start?certification={CERT}&subject=S1&mode=bookmarked")
    await check("nothing to practise")
    await page.goto(f"{base_url}/notes")
    await page.locator(".memo-form textarea").fill("memo")
    await page.locator(".memo-form button[type=submit]").click()
    await expect(page.locator(".saved")).to_be_visible()
    await check("notes")
    await page.goto(f"{base_url}/bookmarks")
    await check("bookmarks")
    await page.goto(f"{base_url}/reviews")
    await check("reviews, nothing due")
    await _make_all_due(db)
    await page.goto(f"{base_url}/reviews")
    await expect(page.locator(".cert-group .item")).to_have_count(1)
    await check("reviews")


@pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="set SCREENSHOTS=1")
async def test_screenshots(page: Page, base_url: str, db: Database, storage: LocalStorage) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await _learner(page, base_url, db, storage, "shots@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    await page.screenshot(path=SCREENSHOTS / "practice-desktop.png", full_page=True)

    question, key = await _key(page, base_url, db)
    await page.keyboard.press(key[0])
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback")).to_be_visible()
    await page.keyboard.press("n")
    await page.wait_for_url("**/1")
    await page.set_viewport_size(PHONE)
    question, key = await _key(page, base_url, db)
    await page.keyboard.press(_wrong(question, key))
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback.wrong")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "practice-feedback-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)

    await page.goto(f"{base_url}/notes")
    await page.locator(".memo-form textarea").fill("제2정규형: 부분 함수 종속 제거. 다시 보기!")
    await page.locator(".memo-form button[type=submit]").click()
    await expect(page.locator(".saved")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "notes-desktop.png", full_page=True)

    await _make_all_due(db)
    await page.goto(f"{base_url}/reviews")
    await page.screenshot(path=SCREENSHOTS / "reviews-desktop.png", full_page=True)


# ---- the learner's week: stopping a run, retrying, the detailed note, home, dark mode --------


async def _answer_current(page: Page, base_url: str, db: Database, right: bool) -> str:
    """Answer the question on screen right or wrong by keyboard; returns its question id."""
    question, key = await _key(page, base_url, db)
    await page.keyboard.press(key[0] if right else _wrong(question, key))
    await page.keyboard.press("Enter")
    await expect(page.locator(".feedback")).to_be_visible()
    return str(question["question_id"])


async def test_stopping_shows_what_i_answered_and_retries_exactly_the_wrong_ones(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "stop@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    await _answer_current(page, base_url, db, right=True)
    await page.keyboard.press("n")
    await page.wait_for_url(f"**/practice/{session_id}/1")
    wrong_qid = await _answer_current(page, base_url, db, right=False)
    await page.keyboard.press("n")
    await page.wait_for_url(f"**/practice/{session_id}/2")

    # 그만하기 on the card, before answering the third: the end page shows the two answers.
    stop = page.locator("#practice-card a[data-stop]")
    await expect(stop).to_have_text("그만하기")
    await stop.click()
    await page.wait_for_url(f"**/practice/{session_id}/done")
    await expect(page.locator(".run-answer")).to_have_count(2)
    await expect(page.locator(".run-answer.is-wrong")).to_have_count(1)
    await expect(page.locator(".run-answer.is-right .tag-key")).to_be_visible()
    await expect(page.locator(".run-answer.is-wrong")).to_contain_text("내 답")
    await expect(page.locator(".run-figures")).to_contain_text("2문제 중 1문제 정답")
    await expect(page.locator(".run-figures")).to_contain_text("걸린 시간")
    assert await axe_violations(page) == []

    # 틀린 문제 다시 풀기: a new run of exactly the one question I got wrong.
    await page.click(f"a[href='/practice/{session_id}/retry']")
    await _wait_for_question(page)
    retry_id, position = _where(page)
    assert (retry_id, position) != (session_id, 0)
    await expect(page.locator(".q-progress")).to_contain_text("1 / 1")
    question, _ = await _key(page, base_url, db)
    assert question["question_id"] == wrong_qid

    # Stopping before any answer says so, and offers no retry.
    await page.click("#practice-card a[data-stop]")
    await page.wait_for_url(f"**/practice/{retry_id}/done")
    await expect(page.locator(".run-answer")).to_have_count(0)
    await expect(page.locator(f"a[href='/practice/{retry_id}/retry']")).to_have_count(0)
    reply = await page.request.get(f"{base_url}/practice/{retry_id}/retry")
    assert reply.status == 409


async def test_the_exam_result_practises_only_the_wrong_ones_after_the_submit(
    browser: Browser, base_url: str, db: Database, storage: LocalStorage
) -> None:
    fcc = "US-FCC-TECHNICIAN"
    await load(db, storage, fcc)
    await make_user(db, "learner", "retry-exam@example.com")
    context = await browser.new_context(viewport=DESKTOP, locale="ko-KR", java_script_enabled=False)
    page = await context.new_page()
    try:
        await sign_in(page, base_url, "retry-exam@example.com", PASSWORD)
        await page.goto(f"{base_url}/certifications/{fcc}")
        await page.locator("form[action='/exam/start'] button").first.click()
        await page.wait_for_url(re.compile(r"/exam/[0-9a-f]+$"))
        attempt = urlsplit(page.url).path.rsplit("/", 1)[1]
        view = await (await page.request.get(f"{base_url}/api/v1/attempts/{attempt}")).json()
        keys = await keys_of(db, view)
        items = {i["position"]: i for i in view["items"]}
        for n in (1, 2, 3, 4, 5):
            label = keys[n][0] if n in (1, 3, 5) else _wrong(items[n]["question"], keys[n])
            await page.click(f"#q-{n} .choice:has(input[value='{label}'])")
        # Before the submit there is nothing to practise: the keys would show.
        early = await page.request.get(f"{base_url}/exam/{attempt}/practice-wrong")
        assert early.status == 409
        await page.click(".cbt-fallback button[type=submit]")
        await page.wait_for_url(f"**/exam/{attempt}/result")

        link = page.locator(f"a[href='/exam/{attempt}/practice-wrong']")
        await expect(link).to_have_text("틀린 문제만 다시 풀기")
        await link.click()
        await _wait_for_question(page)
        await expect(page.locator(".q-progress")).to_contain_text("1 / 2")
        session_id, _ = _where(page)
        shown = []
        for n in (0, 1):
            reply = await page.request.get(
                f"{base_url}/api/v1/practice/sessions/{session_id}/questions/{n}"
            )
            shown.append((await reply.json())["question"]["question_id"])
        assert shown == [items[2]["question"]["question_id"], items[4]["question"]["question_id"]]
    finally:
        await context.close()


async def test_the_note_shows_my_answer_key_and_explanation_by_subject_and_prints(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "note-detail@example.com")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    question, key = await _key(page, base_url, db)
    mine = _wrong(question, key)
    await _answer_by_clicking(page, mine)
    qid = question["question_id"]

    await page.goto(f"{base_url}/notes?certification={CERT}")
    note = page.locator(f"[id='note-{qid}']")
    detail = note.locator("details.note-detail")
    await expect(detail.locator(".explanation")).to_be_hidden()  # collapsed at first
    await detail.locator("summary").click()
    await expect(detail.locator(".choice.is-key .choice-num")).to_have_text(key[0])
    await expect(detail.locator(".choice.is-wrong .choice-num")).to_have_text(mine)
    await expect(detail.locator(".choice.is-wrong .tag-mine")).to_have_text(re.compile("내 답"))
    await expect(detail.locator(".explanation")).not_to_be_empty()
    assert await axe_violations(page) == []

    # By subject as well as certification.
    await page.select_option("#f-subject", "S3")
    await page.click(".filter button[type=submit]")
    await page.wait_for_url(re.compile(r"subject=S3"))
    await expect(page.locator(".item")).to_have_count(1)
    await page.goto(f"{base_url}/notes?certification={CERT}&subject=S1")
    await expect(page.locator(".item")).to_have_count(0)
    assert await page.get_attribute("#f-subject option[selected]", "value") == "S1"

    # Printed: no header, navigation, filter or buttons; the explanation printed open.
    await page.goto(f"{base_url}/notes?certification={CERT}")
    await page.emulate_media(media="print")
    await expect(page.locator(".site-header")).to_be_hidden()
    await expect(page.locator(".filter")).to_be_hidden()
    await expect(page.locator(".item-remove button")).to_be_hidden()
    await expect(page.locator(".group-head a")).to_be_hidden()
    await expect(note.locator(".explanation")).to_be_visible()
    assert await note.evaluate("el => getComputedStyle(el).breakInside") == "avoid"
    await page.emulate_media(media="screen")


async def test_a_new_account_is_led_to_a_certification_and_an_exam_date(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "newcomer@example.com")
    await page.goto(f"{base_url}/")
    await expect(page.locator("h1")).to_contain_text("환영합니다")
    steps = page.locator(".onboarding .steps")
    await expect(steps.locator("a[href='/certifications']")).to_be_visible()
    await expect(steps.locator("a[href='/settings']")).to_be_visible()
    settings = page.locator(".site-header a[href='/settings']")
    await expect(settings).to_contain_text("설정")
    assert await axe_violations(page) == []

    # Practising one question makes it mine: listed under 나의 자격증, no more onboarding.
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    await _answer_current(page, base_url, db, right=True)
    await page.goto(f"{base_url}/")
    await expect(page.locator(".onboarding")).to_have_count(0)
    await expect(
        page.locator(f"section[aria-labelledby='mine-h'] a[href='/certifications/{CERT}']")
    ).to_be_visible()


async def _background(page: Page) -> str:
    return str(
        await page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    )


DARK_BG = "rgb(21, 24, 29)"
LIGHT_BG = "rgb(255, 255, 255)"


async def test_dark_mode_follows_the_system_or_the_switch_and_passes_axe(
    context: BrowserContext, page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await _learner(page, base_url, db, storage, "dark@example.com")
    await page.emulate_media(color_scheme="dark")
    await page.goto(f"{base_url}/")
    assert await page.get_attribute("html", "class") == "theme-auto"
    assert await _background(page) == DARK_BG

    async def check(name: str) -> None:
        assert await _background(page) == DARK_BG, name
        assert await axe_violations(page) == [], name
        await page.set_viewport_size(PHONE)
        assert await no_horizontal_scroll(page), f"{name} scrolls sideways at 360 px"
        assert await header_rows(page) <= 2, f"{name}: the header takes more than two rows"
        assert await axe_violations(page) == [], f"{name} on a phone"
        await page.set_viewport_size(DESKTOP)

    await check("home")
    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    await check("question")
    await _answer_current(page, base_url, db, right=False)
    await page.click(".bookmark")
    await expect(page.locator(".bookmark")).to_have_attribute("aria-pressed", "true")
    await check("feedback")
    await page.goto(f"{base_url}/practice/{session_id}/done")
    await check("done")
    await page.goto(f"{base_url}/notes")
    await page.locator("details.note-detail summary").click()
    await check("notes")
    await page.goto(f"{base_url}/settings")
    await check("settings")

    # The header switch: light wins over the system's dark, stored in a cookie, no script.
    await page.goto(f"{base_url}/")
    await expect(page.locator(".theme-switch .to-dark")).to_be_hidden()
    async with page.expect_navigation():
        await page.click(".theme-switch .to-light")
    assert await page.get_attribute("html", "class") == "theme-light"
    assert await _background(page) == LIGHT_BG
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert cookies["theme"] == "light"

    # Dark chosen in settings holds under a light system; bad values are refused.
    await page.emulate_media(color_scheme="light")
    await page.goto(f"{base_url}/settings")
    await page.check("input[name=theme][value=dark]")
    async with page.expect_navigation():
        await page.click("main form[action='/theme'] button[type=submit]")
    assert await page.get_attribute("html", "class") == "theme-dark"
    assert await _background(page) == DARK_BG
    assert await axe_violations(page) == []
    token = await page.get_attribute("meta[name=csrf-token]", "content")
    bad = await page.request.post(
        f"{base_url}/theme", form={"csrf_token": token or "", "theme": "neon"}
    )
    assert bad.status == 422
    assert {c["name"]: c["value"] for c in await context.cookies()}["theme"] == "dark"


@pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="set SCREENSHOTS=1")
async def test_week_screenshots(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def shoot(name: str) -> None:
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(viewport)
            await page.screenshot(path=SCREENSHOTS / f"week-{name}-{size}.png", full_page=True)
        await page.set_viewport_size(DESKTOP)

    await _learner(page, base_url, db, storage, "week-shots@example.com")
    await page.goto(f"{base_url}/")
    await shoot("home-new")

    await page.goto(f"{base_url}{SUBJECT_START}")
    await _wait_for_question(page)
    session_id, _ = _where(page)
    for n, right in enumerate((True, False, True, False)):
        await _answer_current(page, base_url, db, right=right)
        await page.keyboard.press("n")
        await page.wait_for_url(f"**/practice/{session_id}/{n + 1}")
    await shoot("practice-stop")
    await page.click("#practice-card a[data-stop]")
    await page.wait_for_url(f"**/practice/{session_id}/done")
    await shoot("practice-end")

    await page.goto(f"{base_url}/notes?certification={CERT}")
    await page.locator(".memo-form textarea").first.fill(
        "제2정규형: 부분 함수 종속 제거. 다시 보기!"
    )
    await page.locator(".memo-form button[type=submit]").first.click()
    await expect(page.locator(".saved")).to_be_visible()
    await page.locator("details.note-detail summary").first.click()
    await shoot("notes")
    await page.emulate_media(media="print")
    await page.screenshot(path=SCREENSHOTS / "week-notes-print.png", full_page=True)
    await page.emulate_media(media="screen", color_scheme="dark")
    await shoot("notes-dark")
    await page.goto(f"{base_url}/practice/{session_id}/done")
    await shoot("practice-end-dark")
    await page.goto(f"{base_url}/")
    await shoot("home-dark")
