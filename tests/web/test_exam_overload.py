"""A server at capacity answers 503 + Retry-After; the exam page keeps every answer and sends
it again when the server has room (a real browser against a real server whose only slot is
held by a request that never finishes sending its body)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import DESKTOP, live_server, sign_in
from tests.support.exams import keys_of, load
from tests.web.test_exam_pages import FCC, all_saved, api_view, choice, queue_of, start_exam


def _hold_the_only_slot(base_url: str, token: str) -> socket.socket:
    """A request that has sent its headers but not its body keeps its slot until closed."""
    host, port = base_url.removeprefix("http://").split(":")
    held = socket.create_connection((host, int(port)))
    held.sendall(
        (
            f"POST /api/v1/attempts HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{"
        ).encode()
    )
    return held


async def test_answers_refused_by_a_busy_server_are_kept_and_saved_when_it_has_room(
    browser: Browser, database_url: str, media_dir: Path, db: Database, storage: LocalStorage
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOGIN_LIMIT_IP": "100000/minute",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        # One request at a time; the others of a page load wait their turn, but none waits
        # longer than a second.
        "ADMISSION_LIMIT": "1",
        "ADMISSION_QUEUE": "20",
        "ADMISSION_WAIT_SECONDS": "1",
    }
    await load(db, storage, FCC)
    email = await make_user(db, "learner", "busy@example.com")
    with live_server(env) as base_url:
        context = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
        try:
            page = await context.new_page()
            await sign_in(page, base_url, email, PASSWORD)
            attempt = await start_exam(page, base_url, FCC)
            keys = await keys_of(db, await api_view(page, base_url, attempt))
            await page.click(choice(1, keys[1][0]))
            await all_saved(page, attempt)
            async with httpx.AsyncClient(base_url=base_url) as http:
                token = (
                    await http.post(
                        "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                    )
                ).json()["access_token"]
                held = _hold_the_only_slot(base_url, token)
                try:
                    for _ in range(100):  # until the server has taken the held request in
                        busy = await http.get("/api/v1/attempts")
                        if busy.status_code == 503:
                            break
                        await asyncio.sleep(0.05)
                    assert busy.status_code == 503
                    assert busy.headers["retry-after"] == "1"

                    refused: list[int] = []
                    page.on(
                        "response",
                        lambda r: refused.append(r.status) if "/answers/" in r.url else None,
                    )
                    for n in (2, 3, 4):
                        await page.click(choice(n, keys[n][0]))
                    await expect(page.locator("#q-2 .q-save")).to_have_attribute(
                        "data-save", "queued"
                    )
                    assert 503 in refused
                    queue = await queue_of(page, attempt)
                    assert sorted(queue) == ["2", "3", "4"]
                finally:
                    held.close()  # the server has room again
            await all_saved(page, attempt)
            stored = {i["position"]: i for i in (await api_view(page, base_url, attempt))["items"]}
            for n in (1, 2, 3, 4):
                assert stored[n]["answer"]["choices"] == [keys[n][0]], n
            await expect(page.locator("#q-4 .q-save")).to_have_attribute("data-save", "saved")
        finally:
            await context.close()
