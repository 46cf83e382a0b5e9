"""Two `certplatform serve` processes on one PostgreSQL and one Redis (ADR 0022): a rate
limit, a sign-out and a role change made through one hold in the other at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from certplatform.identity import service
from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import live_server
from tests.support.redis import drop_prefix, run_prefix, shared_redis_url


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> bool:
    """Whether `check` holds within `seconds` (a message between processes takes a moment)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        if await check():
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)


async def token(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    reply = await api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


async def test_two_processes_share_limits_sign_outs_and_cache_invalidation(
    backend: str, database_url: str, media_dir: Path, db: Database
) -> None:
    if backend != "postgresql":
        pytest.skip("several processes need PostgreSQL")
    learner = await make_user(db, "learner", "two-processes@example.com")
    admin = await make_user(db, "admin", "two-processes-admin@example.com")
    async with db.transaction() as uow:
        learner_id = (await service.find_user(uow, learner)).id  # type: ignore[union-attr]
    prefix = run_prefix()
    redis_url = shared_redis_url()
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "SWEEPER_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "EVENT_RELAY_INTERVAL": "0",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "LOGIN_LIMIT_IP": "8/minute",
        "PRINCIPAL_CACHE_SECONDS": "600",  # only a revocation can end a remembered session
    }
    listener = aioredis.Redis.from_url(redis_url)
    revocations = listener.pubsub()
    await revocations.subscribe(prefix + "auth")
    try:
        with ExitStack() as stack:
            one = stack.enter_context(live_server(env, "--no-migrate"))
            two = stack.enter_context(live_server(env, "--no-migrate"))
            async with httpx.AsyncClient(base_url=one) as a, httpx.AsyncClient(base_url=two) as b:
                for server in (a, b):
                    assert (await server.get("/readyz")).json()["redis"] == "ok"

                # A sign-out in one process ends the token in the other, which remembered it.
                signed_in = await token(a, learner)
                assert (await b.get("/api/v1/me", headers=signed_in)).status_code == 200
                assert (await a.post("/api/v1/auth/logout", headers=signed_in)).status_code == 204

                async def ended() -> bool:
                    return (await b.get("/api/v1/me", headers=signed_in)).status_code == 401

                assert await eventually(ended)

                # A role given in one process is the role the other serves at once.
                learner_auth, admin_auth = await token(a, learner), await token(a, admin)
                assert (await b.get("/api/v1/users", headers=learner_auth)).status_code == 403
                changed = await a.put(
                    f"/api/v1/users/{learner_id}/role", json={"role": "admin"}, headers=admin_auth
                )
                assert changed.status_code == 200, changed.text

                async def promoted() -> bool:
                    return (await b.get("/api/v1/users", headers=learner_auth)).status_code == 200

                assert await eventually(promoted)

                # Both revocations travelled on the Redis channel (PostgreSQL NOTIFY is off).
                seen = []
                while (message := await revocations.get_message(timeout=1)) is not None:
                    if message["type"] == "message":
                        seen.append(message["data"].decode())
                assert seen.count(learner_id) == 2

                # Sign-in attempts through one process count in the other: 3 tokens so far,
                # 5 wrong passwords in the first process, then the second one turns away.
                for _ in range(5):
                    wrong = await a.post(
                        "/api/v1/auth/token", json={"email": learner, "password": "wrong!"}
                    )
                    assert wrong.status_code == 401
                refused = await b.post(
                    "/api/v1/auth/token", json={"email": admin, "password": PASSWORD}
                )
                assert refused.status_code == 429
                assert int(refused.headers["retry-after"]) >= 1
    finally:
        await revocations.aclose()
        await listener.aclose()
        drop_prefix(redis_url, prefix)
