"""The back office in a real browser: import wizard, workflow, editor and history, guards,
users and the audit log, accessibility and narrow screens."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from certplatform.content import service as content
from certplatform.content.contracts import QuestionStatus
from certplatform.identity import service as identity
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.web import i18n
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    no_horizontal_scroll,
    sign_in,
)
from tests.support.content import choice_question
from tests.support.exams import load

KR = "KR-INFO-ENGINEER"
GIFT = """\
// [id:G1] [tag:geo]
::Capital::What is the capital of France? {=Paris ~London ~Berlin}

// [id:G2]
::Sum::What is 2 + 2? {=4 ~3 ~5}

// [id:G3]
::Sky::The sky on a clear day is blue. {T}
"""
# The smallest valid PNG: one transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


@pytest_asyncio.fixture
async def browser_no_js(browser: Browser) -> AsyncIterator[Page]:
    """A page with JavaScript off: every form must still work."""
    context = await browser.new_context(viewport=DESKTOP, locale="ko-KR", java_script_enabled=False)
    yield await context.new_page()
    await context.close()


async def as_role(page: Page, base_url: str, db: Database, role: str, lang: str = "en") -> str:
    """Sign in; these tests find controls by their English text unless told otherwise."""
    if lang == "en":
        await english(page, base_url)
    email = await make_user(db, role, f"{role}-admin-pages@example.com")
    await sign_in(page, base_url, email, PASSWORD)
    return email


async def english(page: Page, base_url: str) -> None:
    await page.context.add_cookies([{"name": "lang", "value": "en", "url": base_url}])


async def new_question(db: Database, storage: LocalStorage, cert: str = "EDIT-DEMO") -> str:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, cert, "Editor demo")
        draft = choice_question(
            "Which planet is the largest? $x^2$",
            ("Mercury", "Jupiter", "Venus", "Mars"),
            key=1,
            external_id="P1",
        )
        return (await content.create_question(uow, storage, cert, draft, None)).id


async def screenshot(page: Page, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / name, full_page=True)


# ---- (a) import wizard, then the workflow -------------------------------------------------


async def test_author_imports_gift_then_sends_to_review_and_publishes(
    page: Page, base_url: str, db: Database, tmp_path: Path
) -> None:
    await as_role(page, base_url, db, "author")
    gift = tmp_path / "three.gift"
    gift.write_text(GIFT, encoding="utf-8")

    await page.goto(f"{base_url}/admin/import")
    await page.set_input_files("#f-file", gift)
    await page.select_option("#f-format", "gift")
    await page.fill("#f-certification", "GIFT-DEMO")
    await page.fill("#f-name", "GIFT demo")
    await page.click("button:has-text('Check the file')")
    await page.wait_for_load_state("networkidle")
    stats = page.locator(".stats li")
    await expect(stats.nth(0)).to_contain_text("3")
    await expect(stats.nth(1)).to_contain_text("0")
    await expect(stats.nth(3)).to_contain_text("0")
    async with db.transaction() as uow:  # a dry run writes nothing
        assert [c.code for c in await content.list_certifications(uow)] == []

    await page.click("button:has-text('Import now')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("h1")).to_have_text("Import finished")
    await expect(page.locator(".stats li").first).to_contain_text("3")

    await page.goto(f"{base_url}/admin/questions?certification=GIFT-DEMO&q=capital")
    rows = page.locator(".questions-table tbody tr")
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link", name="G1", exact=True).click()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#f-stem")).to_have_value("What is the capital of France?")

    await page.click("text=History and workflow >> nth=0")
    await page.click("button[name=to][value=review]")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".meta .status")).to_have_text("In review")
    await page.click("button[name=to][value=published]")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".meta .status")).to_have_text("Published")
    async with db.transaction() as uow:
        found = await content.questions_by_external_id(uow, "GIFT-DEMO", ["G1", "G2"])
    assert found["G1"].status is QuestionStatus.PUBLISHED
    assert found["G2"].status is QuestionStatus.DRAFT

    # Export: pick the certification and a format, get the file.
    await page.goto(f"{base_url}/admin/import")
    await page.select_option("#f-export-certification", "GIFT-DEMO")
    await page.select_option("#f-export-format", "aiken")
    await page.select_option("#f-export-status", "published")
    async with page.expect_download() as download:
        await page.click("button:has-text('Download')")
    saved = await (await download.value).path()
    exported = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8")
    assert "capital of France" in exported
    assert "2 + 2" not in exported  # only the published one


async def test_bulk_actions_show_the_services_refusal(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    qid = await new_question(db, storage)
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/questions?certification=EDIT-DEMO")
    await page.check(f"#sel-{qid}")
    await page.click("button[name=to][value=published]")  # a draft cannot skip review
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=alert]")).to_contain_text("it can move to")
    await expect(page.locator(f"#sel-{qid}")).to_be_checked()
    await page.click("button[name=to][value=review]")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=status]").first).to_contain_text("1 question")
    await expect(page.locator(".questions-table .status")).to_have_text("In review")


# ---- (b) the editor: a change makes version 2, and the history shows the diff -------------


async def test_author_edits_a_choice_and_sees_version_2_with_a_diff(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    qid = await new_question(db, storage)
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/questions/{qid}/edit")
    # Math renders on the server, also in the live preview.
    await expect(page.locator("#stem-preview math")).to_have_count(1)
    await page.fill("#f-stem", "Which planet is the largest? $y^3$ and $$a+b$$")
    await expect(page.locator("#stem-preview math")).to_have_count(2)
    await expect(page.locator("#stem-preview")).to_contain_text("Which planet")

    # An image uploads in place and its reference lands in the text.
    await page.set_input_files(
        "#f-image", files=[{"name": "orbit.png", "mimeType": "image/png", "buffer": PIXEL}]
    )
    await page.fill("#f-image_alt", "orbits")
    await page.click("button[data-upload]")
    await expect(page.locator("#f-stem")).to_have_value(re.compile(r"!\[orbits\]\(media:orbit"))
    await expect(page.locator("#stem-preview img[alt=orbits]")).to_have_count(1)

    await page.fill("#choice-2-text", "Venus (the hottest)")
    await page.fill("#f-note", "clearer choice")
    await page.click("button:has-text('Save as a new version')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=status]").first).to_contain_text("version 2")

    await page.click("text=History and workflow >> nth=0")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("tbody tr")).to_have_count(2)
    await expect(page.locator(".diff-del", has_text="Venus")).to_have_count(1)
    await expect(page.locator(".diff-add", has_text="Venus (the hottest)")).to_have_count(1)
    await expect(page.locator(".diff-same", has_text="Jupiter")).to_have_count(1)
    # Any two versions: 2 against itself has no changes.
    await page.goto(f"{base_url}/admin/questions/{qid}/versions?a=2&b=2")
    await expect(page.locator(".diff-add")).to_have_count(0)
    async with db.transaction() as uow:
        versions = await content.question_versions(uow, qid)
        media = await content.media_file(uow, "EDIT-DEMO", "orbit.png")
    assert [v.number for v in versions] == [1, 2]
    assert versions[-1].note == "clearer choice"
    assert media[0] == "image/png"


async def test_editor_shows_errors_at_the_fields_and_refuses_stale_saves(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    qid = await new_question(db, storage)
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/questions/{qid}/edit")
    await page.fill("#choice-1-weight", "0")  # no key left
    await page.click("button:has-text('Save as a new version')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=alert]")).to_contain_text("see the marked fields")
    await expect(page.locator("#content-error")).to_contain_text("full credit")
    await page.fill("#choice-1-weight", "1")
    await page.fill("#choice-3-weight", "lots")
    await page.click("button:has-text('Save as a new version')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#choices-3-error")).to_contain_text("number")
    await expect(page.locator("#choice-3-text")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#choice-2-text")).to_have_value("Venus")  # as typed

    # Someone else saves meanwhile: this page's save is refused with the service's message.
    other = await page.context.new_page()
    await other.goto(f"{base_url}/admin/questions/{qid}/edit")
    await other.fill("#choice-0-text", "Mercury!")
    await other.click("button:has-text('Save as a new version')")
    await other.wait_for_load_state("networkidle")
    await page.fill("#choice-3-weight", "")
    await page.click("button:has-text('Save as a new version')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=alert]")).to_contain_text("changed meanwhile")
    async with db.transaction() as uow:
        assert len(await content.question_versions(uow, qid)) == 2


async def test_new_question_without_script(
    browser_no_js: Page, base_url: str, db: Database
) -> None:
    page = browser_no_js
    async with db.transaction() as uow:
        await content.ensure_certification(uow, "NOJS", "No script")
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/questions/new?certification=NOJS")
    await page.fill("#f-external_id", "N1")
    await page.fill("#f-stem", "Pick B.")
    await page.fill("#choice-0-text", "A")
    await page.fill("#choice-1-text", "B")
    await page.fill("#choice-1-weight", "1")
    await page.set_input_files(
        "#f-image", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": PIXEL}]
    )
    await page.click("button[data-upload]")  # the whole form comes back, text kept
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#f-stem")).to_have_value(re.compile(r"Pick B\.\s+!\[image\]"))
    await expect(page.locator("#choice-1-text")).to_have_value("B")
    await page.click("button:has-text('Create the question')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("h1")).to_contain_text("N1")
    async with db.transaction() as uow:
        [question] = (await content.questions_by_external_id(uow, "NOJS", ["N1"])).values()
    assert [c.id for c in question.version.content.choices] == ["A", "B"]


# ---- exam forms --------------------------------------------------------------------------


async def test_blueprint_and_past_paper_editors(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await new_question(db, storage)  # one draft question, P1 in subject S1
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/blueprints/edit?certification=EDIT-DEMO")
    await page.fill("#f-code", "BP")
    await page.fill("#f-name", "Practice exam")
    await page.fill("#f-minutes", "30")
    await page.fill("#f-threshold", "150")  # a percent above 100
    await page.fill("#section-0-code", "S1")
    await page.select_option("#section-0-subject", "S1")
    await page.fill("#section-0-count", "2")
    await page.click("button:has-text('Save the blueprint')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#f-threshold-error")).to_contain_text("at most 100")
    await expect(page.locator("#section-0-code")).to_have_value("S1")
    await page.fill("#f-threshold", "60")
    await page.click("button:has-text('Save the blueprint')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=status]").first).to_contain_text("BP")
    # Coverage: the section needs 2 published questions and the bank has none.
    await expect(page.locator(".card tbody tr").first).to_contain_text("2 missing")

    await page.click("text=New past paper")
    await page.fill("#f-code", "PP-1")
    await page.fill("#f-name", "Paper one")
    await page.fill("#f-items", "P1\nZZ")
    await page.click("button:has-text('Save the past paper')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#f-items-error")).to_contain_text("ZZ")
    await page.fill("#f-items", "P1")
    await page.click("button:has-text('Save the past paper')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("table", has_text="Paper one")).to_contain_text("PP-1")
    async with db.transaction() as uow:
        [paper] = await content.past_papers(uow, "EDIT-DEMO")
    assert [(i.section_code, i.points) for i in paper.items] == [("S1", 1.0)]


# ---- (c) who may open the back office -------------------------------------------------------


async def test_learners_get_403_and_visitors_sign_in_first(
    page: Page, base_url: str, db: Database
) -> None:
    await page.goto(f"{base_url}/admin/questions")
    assert "/signin?next=/admin/questions" in page.url
    await as_role(page, base_url, db, "learner")
    reply = await page.goto(f"{base_url}/admin")
    assert reply is not None
    assert reply.status == 403
    await expect(page.locator("h1")).to_have_count(1)
    await expect(page.locator(".admin-nav")).to_have_count(0)


async def test_authors_do_not_see_the_admin_pages(page: Page, base_url: str, db: Database) -> None:
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin")
    await expect(page.locator(".admin-nav a[href='/admin/users']")).to_have_count(0)
    for path in ("/admin/users", "/admin/audit", "/admin/regrade"):
        reply = await page.goto(f"{base_url}{path}")
        assert reply is not None
        assert reply.status == 403, path


# ---- (d) roles and the audit log ------------------------------------------------------------


async def test_admin_changes_a_role_and_finds_it_in_the_audit_log(
    page: Page, base_url: str, db: Database
) -> None:
    learner = await make_user(db, "learner", "promote-me@example.com")
    async with db.transaction() as uow:
        found = await identity.find_user(uow, learner)
    assert found is not None
    await as_role(page, base_url, db, "admin")
    await page.goto(f"{base_url}/admin/users")
    await page.select_option(f"#role-{found.id}", "author")
    await page.locator(f"#role-{found.id}").locator("xpath=..").locator("button").click()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=status]").first).to_contain_text(learner)
    await expect(page.locator(f"#role-{found.id}")).to_have_value("author")

    # Creating an account works from the same page; a duplicate is refused with a message.
    for expected in ("Created the account", "already exists"):
        await page.fill("#f-email", "new-author@example.com")
        await page.fill("#f-password", "long enough password")
        await page.select_option("#f-role", "author")
        await page.click("button:has-text('Create the account')")
        await page.wait_for_load_state("networkidle")
        await expect(page.locator(".alert").first).to_contain_text(expected)

    # The relay turns the event into an audit entry within a second or so.
    url = f"{base_url}/admin/audit?action=identity.role&subject={learner}"
    row = page.locator(".audit-table tbody tr", has_text="identity.role.changed")
    for _ in range(40):
        await page.goto(url)
        if await row.count():
            break
        await asyncio.sleep(0.25)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(learner)
    await expect(row).to_contain_text('"to": "author"')

    await page.click("button:has-text('Verify the chain')")
    await expect(page.locator("#verify-result .alert-success")).to_contain_text("intact")


async def test_regrade_dry_run_and_apply(
    page: Page, base_url: str, db: Database, storage: LocalStorage
) -> None:
    await new_question(db, storage)
    await as_role(page, base_url, db, "admin")
    await page.goto(f"{base_url}/admin/regrade")
    await page.select_option("#f-certification", "EDIT-DEMO")
    await page.fill("#f-question", "P1")
    await page.click("button:has-text('Dry run')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#report-h")).to_contain_text("nothing has been changed")
    await page.fill("#f-question", "NOPE")
    await page.click("button:has-text('Dry run')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[role=alert]")).to_contain_text("NOPE")


# ---- (e) accessibility in both languages, and narrow screens ---------------------------------


async def admin_pages(page: Page, base_url: str, db: Database) -> list[str]:
    """Open the pages that need a step first; returns every admin URL to check."""
    async with db.transaction() as uow:
        [question] = await content.find_questions(uow, certification_code=KR, limit=1)
    qid = question.id
    # A second version, so the history shows a diff.
    await page.goto(f"{base_url}/admin/questions/{qid}/edit")
    await page.fill("#choice-0-text", "바뀐 보기")
    await page.click("button:has-text('Save as a new version')")
    await page.wait_for_load_state("networkidle")
    return [
        "/admin",
        f"/admin/questions?certification={KR}",
        f"/admin/questions/new?certification={KR}",
        f"/admin/questions/{qid}/edit",
        f"/admin/questions/{qid}/versions",
        "/admin/import",
        f"/admin/blueprints?certification={KR}",
        f"/admin/blueprints/edit?certification={KR}&code=MOCK",
        f"/admin/papers/edit?certification={KR}&code=MOCK-01",
        "/admin/users",
        "/admin/audit",
        f"/admin/regrade?certification={KR}&question={question.external_id}",
        f"/admin/items?certification={KR}",
    ]


async def too_wide(page: Page) -> list[str]:
    """The outermost elements that stick out of the viewport, to say what to fix."""
    found: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter(el => {
            const edge = window.innerWidth + 1;
            const parent = el.parentElement.getBoundingClientRect();
            const absolute = getComputedStyle(el).position === 'absolute';
            return el.getBoundingClientRect().right > edge && (parent.right <= edge || absolute);
        }).slice(0, 5).map(el => el.outerHTML.slice(0, 100))"""
    )
    return found


async def check(page: Page, where: str) -> None:
    assert await axe_violations(page) == [], where
    await page.set_viewport_size(PHONE)
    assert await no_horizontal_scroll(page), f"{where} scrolls sideways: {await too_wide(page)}"
    assert await axe_violations(page) == [], f"{where} at 360 px"
    await page.set_viewport_size(DESKTOP)


def tr(lang: str, text: str) -> str:
    """A button's label as the page shows it in `lang` (from the real catalog)."""
    i18n.set_language(i18n.pick(lang))
    return i18n.gettext(text)


async def import_preview(page: Page, base_url: str, tmp_path: Path, lang: str = "en") -> None:
    bad = GIFT + "\n// [id:G4]\nNo right answer here {~a ~b}\n"
    path = tmp_path / "four.gift"
    path.write_text(bad, encoding="utf-8")
    await page.goto(f"{base_url}/admin/import")
    await page.set_input_files("#f-file", path)
    await page.fill("#f-certification", KR)
    await page.click(f"button:has-text('{tr(lang, 'Check the file')}')")
    await page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_every_admin_page_passes_axe_and_fits_a_phone(
    page: Page, base_url: str, db: Database, storage: LocalStorage, tmp_path: Path, lang: str
) -> None:
    await load(db, storage, KR)
    await as_role(page, base_url, db, "admin")
    paths = await admin_pages(page, base_url, db)  # prepares data, clicking English labels
    await page.context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    for path in paths:
        reply = await page.goto(f"{base_url}{path}")
        assert reply is not None
        assert reply.status == 200, path
        await page.wait_for_load_state("networkidle")
        assert await page.get_attribute("html", "lang") == lang
        await check(page, path)

    # States reached by a step: the audit chain result, an editor with errors, the import check.
    await page.goto(f"{base_url}/admin/audit")
    await page.click(f"button:has-text('{tr(lang, 'Verify the chain')}')")
    await expect(page.locator("#verify-result .alert")).to_have_count(1)
    await check(page, "audit with the chain result")
    await page.goto(f"{base_url}/admin/questions/new?certification={KR}")
    await page.fill("#choice-0-text", "하나")
    await page.click(f"button:has-text('{tr(lang, 'Create the question')}')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#f-stem-error")).to_have_count(1)
    await check(page, "editor with errors")
    await import_preview(page, base_url, tmp_path, lang)
    await expect(page.locator(".item-errors li")).to_have_count(1)
    await check(page, "import check")
    await page.check("#f-skip")
    await page.click(f"button:has-text('{tr(lang, 'Import now')}')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator(".stats li").first).to_contain_text("3")
    await check(page, "import done")


async def test_screenshots(
    page: Page, base_url: str, db: Database, storage: LocalStorage, tmp_path: Path, backend: str
) -> None:
    """Korean, desktop: docs/screenshots/admin-*.png (only with SCREENSHOTS=1)."""
    if os.environ.get("SCREENSHOTS") != "1" or backend != "sqlite":
        pytest.skip("screenshots are taken with SCREENSHOTS=1, once (on SQLite)")
    await load(db, storage, KR)
    await as_role(page, base_url, db, "author")
    await page.goto(f"{base_url}/admin/questions?certification={KR}")
    await screenshot(page, "admin-questions.png")
    async with db.transaction() as uow:
        [question] = await content.find_questions(uow, certification_code=KR, limit=1)
    await page.goto(f"{base_url}/admin/questions/{question.id}/edit")
    await page.fill("#f-stem", question.version.content.stem + "\n\n$$E = mc^2$$")
    await expect(page.locator("#stem-preview math")).to_have_count(1)
    await screenshot(page, "admin-editor.png")
    await import_preview(page, base_url, tmp_path)
    await screenshot(page, "admin-import-preview.png")
    await page.goto(f"{base_url}/admin/blueprints?certification={KR}")
    await screenshot(page, "admin-blueprint.png")
