"""Two server processes share study rooms through Redis (ADR 0024): a message said on one
reaches a member connected to the other, and still reaches no one outside the room."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI

from certplatform.community.contracts import Visibility
from certplatform.kernel.db import Database
from tests.community.test_rooms_socket import QUIET, _eventually, _room, _user, peer
from tests.support.browser import live_server

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_env(app: FastAPI, database_url: str, media_dir: Path) -> dict[str, str]:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS} does not answer: {exc}")
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": REDIS,
        "LOGIN_LIMIT_IP": "100000/minute",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    return env


async def test_a_message_crosses_processes(redis_env: dict[str, str], db: Database) -> None:
    with live_server(redis_env) as first, live_server(redis_env) as second:
        await _crossing(first, second, db)


async def _crossing(first: str, second: str, db: Database) -> None:
    owner, owner_token = await _user(first, db, "owner-scale@example.com")
    _, member_token = await _user(first, db, "member-scale@example.com")
    _, outsider_token = await _user(first, db, "outsider-scale@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with (
        peer(first, owner_token) as a,
        peer(second, member_token) as b,
        peer(second, outsider_token) as c,
    ):
        assert (await a.call("join", {"room_id": room_id}))["ok"]
        assert (await b.call("join", {"room_id": room_id}))["ok"]
        said = await a.call("say", {"room_id": room_id, "body": "건너갑니다"})
        assert said["ok"], said
        await _eventually(lambda: [m["body"] for m in b.got("message")] == ["건너갑니다"])
        back = await b.call("say", {"room_id": room_id, "body": "받았어요"})
        assert back["ok"], back
        await _eventually(lambda: "받았어요" in [m["body"] for m in a.got("message")])
        await a.call("timer", {"room_id": room_id, "running": True})
        await _eventually(lambda: len(b.got("timer")) == 1)
        await asyncio.sleep(QUIET)
        assert c.events == []  # same process as b, never joined
