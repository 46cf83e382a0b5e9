"""Redis shared by the processes of a deployment (ADR 0022), on real Redis servers: the
shared one on :6379 under this run's key prefix, and a private one a test stops and starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from certplatform.app import create_app
from certplatform.kernel.db import Database
from certplatform.kernel.settings import Settings
from tests.support.accounts import PASSWORD, client_from, make_user
from tests.support.redis import PrivateRedis, drop_prefix, run_prefix, shared_redis_url

LIMIT = 3  # sign-in attempts per client address and minute in these tests


@pytest.fixture
def prefix() -> Iterator[str]:
    chosen = run_prefix()
    yield chosen
    drop_prefix(shared_redis_url(), chosen)


@asynccontextmanager
async def two_apps(settings: Settings, redis_url: str, prefix: str) -> AsyncIterator[list[FastAPI]]:
    """Two applications on one database and one Redis: two processes in all but the PID."""
    shaped = settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": prefix, "login_limit_ip": f"{LIMIT}/minute"}
    )
    async with AsyncExitStack() as stack:
        apps = [create_app(shaped), create_app(shaped)]
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield apps


async def attempts(app: FastAPI, ip: str, email: str, count: int) -> list[int]:
    async with client_from(app, ip) as http:
        return [
            (
                await http.post("/api/v1/auth/token", json={"email": email, "password": "wrong!"})
            ).status_code
            for _ in range(count)
        ]


async def test_a_limit_reached_in_one_process_holds_in_the_other(
    settings: Settings, db: Database, prefix: str
) -> None:
    email = await make_user(db, "learner", "shared-limit@example.com")
    async with two_apps(settings, shared_redis_url(), prefix) as (first, second):
        assert await attempts(first, "198.51.100.7", email, LIMIT) == [401] * LIMIT
        assert await attempts(second, "198.51.100.7", email, 1) == [429]
        # Another address is not affected: the count is per address, not global.
        assert await attempts(second, "198.51.100.8", email, 1) == [401]


async def _ready(app: FastAPI) -> dict[str, str]:
    async with client_from(app, "127.0.0.1") as http:
        reply = await http.get("/readyz")
        assert reply.status_code == 200, reply.text  # degraded is still ready
        body: dict[str, str] = reply.json()
        return body


async def test_the_app_serves_without_redis_and_shares_again_when_it_returns(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    email = await make_user(db, "learner", "outage@example.com")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        async with two_apps(settings, server.url, run_prefix()) as (first, second):
            assert (await _ready(first))["redis"] == "ok"
            assert await attempts(first, "203.0.113.1", email, LIMIT) == [401] * LIMIT
            assert await attempts(second, "203.0.113.1", email, 1) == [429]

            server.stop()
            # Requests still succeed: wrong passwords are told so, the right one signs in,
            # and the signed-in caller is served (from the database, not a stale cache).
            assert await attempts(first, "203.0.113.2", email, LIMIT) == [401] * LIMIT
            async with client_from(second, "203.0.113.3") as http:
                token = await http.post(
                    "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                )
                assert token.status_code == 200, token.text
                auth = {"authorization": f"Bearer {token.json()['access_token']}"}
                assert (await http.get("/api/v1/me", headers=auth)).status_code == 200
            # Per process meanwhile: the second process has not seen the first one's count.
            assert await attempts(second, "203.0.113.2", email, 1) == [401]
            assert (await _ready(first))["redis"] == "degraded"
            assert (await _ready(second))["redis"] == "degraded"

            server.start()  # the same port: Redis is back, empty
            for _ in range(100):  # the listeners reconnect within about a second
                if [(await _ready(app))["redis"] for app in (first, second)] == ["ok", "ok"]:
                    break
                await asyncio.sleep(0.1)
            assert (await _ready(first))["redis"] == "ok"
            assert await attempts(first, "203.0.113.4", email, LIMIT) == [401] * LIMIT
            assert await attempts(second, "203.0.113.4", email, 1) == [429]
    finally:
        server.stop()
