"""The client address behind rate limits and the audit log: X-Forwarded-For is believed
only from configured proxies, and then only up to the first hop that is not one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from certplatform.kernel.db import Database
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.net import resolve_client_ip
from certplatform.kernel.settings import Settings, trusted_networks
from tests.support.accounts import PASSWORD, client_from, make_user
from tests.support.browser import live_server

PEER = "198.51.100.7"
PROXIES = trusted_networks("10.0.0.0/8, 2001:db8::1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "client"),
    [
        (PEER, ["6.6.6.6"], (), PEER),  # no proxy configured: the header is ignored
        (PEER, ["6.6.6.6"], PROXIES, PEER),  # the peer is not a proxy
        ("10.0.0.2", ["6.6.6.6, 203.0.113.5"], PROXIES, "203.0.113.5"),  # rightmost
        ("10.0.0.2", ["203.0.113.5, 10.0.0.3"], PROXIES, "203.0.113.5"),  # two proxies
        ("10.0.0.2", ["203.0.113.5", "10.0.0.3"], PROXIES, "203.0.113.5"),  # two lines
        ("10.0.0.2", ["10.0.0.4, 10.0.0.3"], PROXIES, "10.0.0.4"),  # all proxies
        ("10.0.0.2", ["not-an-ip, 10.0.0.3"], PROXIES, "10.0.0.3"),  # garbage stops
        ("10.0.0.2", [], PROXIES, "10.0.0.2"),  # a proxy's own request
        ("2001:db8::1", ["2001:db8::99"], PROXIES, "2001:db8::99"),
        (None, ["6.6.6.6"], PROXIES, "unknown"),
    ],
)
def test_resolve_client_ip(
    peer: str | None, forwarded: list[str], proxies: Any, client: str
) -> None:
    assert resolve_client_ip(peer, forwarded, proxies) == client


def test_a_bad_proxy_setting_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"proxy\.local"):
        Settings(FORWARDED_ALLOW_IPS="10.0.0.0/8, proxy.local")


async def _failed_login_ips(db: Database) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "certplatform.identity.login.failed.v1")
        )
        return [row.payload["ip"] for row in rows]


async def test_a_spoofed_header_from_a_client_is_ignored(app: FastAPI, db: Database) -> None:
    email = await make_user(db)
    async with client_from(app, PEER) as spoofer:
        for n in range(5):
            reply = await spoofer.post(
                "/api/v1/auth/token",
                json={"email": email, "password": f"guess number {n}"},
                headers={"x-forwarded-for": f"192.0.2.{n}"},
            )
            assert reply.status_code == 401
        blocked = await spoofer.post(
            "/api/v1/auth/token",
            json={"email": email, "password": "guess number 5"},
            headers={"x-forwarded-for": "192.0.2.99"},
        )
    assert blocked.status_code == 429
    assert await _failed_login_ips(db) == [PEER] * 5


@pytest.fixture
def behind_a_proxy(app: FastAPI) -> Iterator[None]:
    """The app with FORWARDED_ALLOW_IPS=10.0.0.0/8 for one test."""
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update={"forwarded_allow_ips": "10.0.0.0/8"})
    try:
        yield
    finally:
        app.state.settings = settings


@pytest.mark.usefixtures("behind_a_proxy")
async def test_a_configured_proxy_is_believed(app: FastAPI, db: Database) -> None:
    email = await make_user(db)
    async with client_from(app, "10.0.0.2") as proxy:
        for n in range(5):
            reply = await proxy.post(
                "/api/v1/auth/token",
                json={"email": email, "password": f"guess number {n}"},
                headers={"x-forwarded-for": "6.6.6.6, 203.0.113.5"},
            )
            assert reply.status_code == 401
        # Another client behind the same proxy is a different address: not throttled.
        owner = await proxy.post(
            "/api/v1/auth/token",
            json={"email": email, "password": PASSWORD},
            headers={"x-forwarded-for": "203.0.113.77"},
        )
    assert owner.status_code == 200
    assert await _failed_login_ips(db) == ["203.0.113.5"] * 5


@pytest.fixture
def served(database_url: str, media_dir: Path) -> Iterator[str]:
    """`certplatform serve` as deployed, strict per-IP sign-in limit, no proxy configured."""
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOGIN_LIMIT_IP": "3/minute",
        "SWEEPER_INTERVAL": "0",
        "EVENT_RELAY_INTERVAL": "0",
    }
    with live_server(env) as url:
        yield url


async def test_the_server_ignores_a_spoofed_header_from_its_own_host(
    served: str, db: Database
) -> None:
    # The server listens on 127.0.0.1, which uvicorn by itself would believe as a proxy.
    async with httpx.AsyncClient(base_url=served) as http:
        for n in range(3):
            reply = await http.post(
                "/api/v1/auth/token",
                json={"email": f"nobody{n}@example.com", "password": "guess number 1"},
                headers={"x-forwarded-for": f"192.0.2.{n}"},
            )
            assert reply.status_code == 401
        blocked = await http.post(
            "/api/v1/auth/token",
            json={"email": "nobody9@example.com", "password": "guess number 1"},
            headers={"x-forwarded-for": "192.0.2.99"},
        )
    assert blocked.status_code == 429
    assert "from your network" in blocked.json()["error"]["message"]
    assert await _failed_login_ips(db) == ["127.0.0.1"] * 3
