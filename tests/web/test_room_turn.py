"""The room page's TURN credentials against a real coturn (ADR 0030): the page receives
the configured ICE servers, and Chromium gets a relay candidate from coturn
(`use-auth-secret`) with the page's credential, and none with a forged one."""

from __future__ import annotations

import base64
import hmac
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import DESKTOP, free_port, live_server, sign_in
from tests.web.test_room_pages import _principal

TURNSERVER = "/usr/bin/turnserver"  # Debian's coturn (`make coturn`)
SECRET = "turn-secret-shared-with-the-test-server"

# Gather candidates with only the relay allowed: a relay candidate means coturn accepted
# the credential and allocated an address.
RELAY_CANDIDATES = """async (servers) => {
  const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
  pc.createDataChannel("probe");
  const found = [];
  const done = new Promise((resolve) => {
    pc.onicecandidate = (e) => { if (e.candidate) found.push(e.candidate.type); else resolve(); };
    setTimeout(resolve, 8000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return found;
}"""


@pytest.fixture(scope="module")
def turn_port() -> Iterator[int]:
    port, relay = free_port(), free_port()
    process = subprocess.Popen(
        [
            TURNSERVER,
            "-n",  # no configuration file: everything is on this line
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay}",
            f"--max-port={relay + 10}",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=certplatform-test",
            "--fingerprint",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def turn_site(app: FastAPI, database_url: str, media_dir: Path, turn_port: int) -> Iterator[str]:
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "LOGIN_LIMIT_IP": "100000/minute",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "STUN_URLS": f"stun:127.0.0.1:{turn_port}",
        "TURN_URLS": f"turn:127.0.0.1:{turn_port}?transport=udp",
        "TURN_SECRET": SECRET,
        "TURN_TTL_SECONDS": "600",
    }
    with live_server(env) as url:
        yield url


async def test_the_page_gets_a_turn_credential_that_coturn_accepts(
    browser: Browser, turn_site: str, turn_port: int, db: Database
) -> None:
    email = await make_user(db, "learner", "turn-user@example.com")
    user = await _principal(db, email)
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow, user, RoomIn(name="통화 릴레이", visibility=Visibility.PUBLIC)
        )
    context = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    try:
        page = await context.new_page()
        await sign_in(page, turn_site, email, PASSWORD)
        await page.goto(f"{turn_site}/rooms/{room.id}")
        await expect(page.locator("#room-status")).to_have_text("연결되었습니다.")
        servers: list[dict[str, Any]] = await page.evaluate(
            "document.getElementById('room').iceServers"
        )
        stun, turn = servers
        assert stun == {"urls": [f"stun:127.0.0.1:{turn_port}"]}
        assert turn["urls"] == [f"turn:127.0.0.1:{turn_port}?transport=udp"]
        expiry, user_id = turn["username"].split(":")
        assert user_id == user.user_id
        digest = hmac.new(SECRET.encode(), turn["username"].encode(), "sha1").digest()
        assert turn["credential"] == base64.b64encode(digest).decode()

        assert "relay" in await page.evaluate(RELAY_CANDIDATES, servers)
        forged = [stun, {**turn, "credential": base64.b64encode(b"x" * 20).decode()}]
        assert "relay" not in await page.evaluate(RELAY_CANDIDATES, forged)
        expired = f"{int(expiry) - 3600}:{user_id}"
        old = hmac.new(SECRET.encode(), expired.encode(), "sha1").digest()
        stale = [stun, {**turn, "username": expired, "credential": base64.b64encode(old).decode()}]
        assert "relay" not in await page.evaluate(RELAY_CANDIDATES, stale)
    finally:
        await context.close()
