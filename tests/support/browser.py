"""Real-browser helpers: a live server process, Chromium through Playwright, axe-core."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 860}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(env: dict[str, str], *args: str) -> Iterator[str]:
    """`certplatform serve` (with `args`, e.g. a role) in its own process; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "certplatform.cli", "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # generous: CI machines may be busy
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the live server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/signin")
    await page.fill("#f-email", email)
    await page.fill("#f-password", password)
    await page.click("form[action='/signin'] button[type=submit]")
    await page.wait_for_load_state("networkidle")


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.x A/AA (incl. 2.2) violations axe-core finds on the current page."""
    # evaluate() runs through the DevTools protocol, so the page's strict CSP stays on.
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


async def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def header_rows(page: Page) -> int:
    """How many rows the site header's items wrap into (items side by side overlap vertically)."""
    spans = await page.evaluate(
        """() => [...document.querySelectorAll('.site-header .bar > *')]
            .filter(el => el.offsetParent !== null)
            .map(el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom]; })"""
    )
    rows: list[float] = []  # the bottom of each row so far
    for top, bottom in sorted(spans):
        if rows and top < rows[-1]:
            rows[-1] = max(rows[-1], bottom)
        else:
            rows.append(bottom)
    return len(rows)
