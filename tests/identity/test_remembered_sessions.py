"""Signed-in callers are remembered per process (ADR 0020), and forgotten everywhere the
moment a session ends or changes: in this process after the commit, in every other process
through PostgreSQL's NOTIFY (Redis when REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from certplatform.kernel.db import Database
from certplatform.kernel.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.server import free_port, serve
from tests.support.shapes import worker_env


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


async def test_a_remembered_session_ends_with_its_sign_out(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    token = await _token(client, await make_user(db))
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200
    assert app.state.principals.get(token["authorization"][7:], "bearer") is not None
    assert (await client.post("/api/v1/auth/logout", headers=token)).status_code == 204
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401


async def test_a_role_change_reaches_a_remembered_session(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db, "learner")
    learner = await _token(client, email)
    assert (await client.get("/api/v1/users", headers=learner)).status_code == 403
    admin = await _token(client, await make_user(db, "admin"))
    me = (await client.get("/api/v1/me", headers=learner)).json()
    changed = await client.put(
        f"/api/v1/users/{me['id']}/role", json={"role": "admin"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    # Decided by the role the remembered session carries, not read from the database.
    assert (await client.get("/api/v1/users", headers=learner)).status_code == 200


async def test_a_sign_out_in_one_process_holds_in_another(
    client: httpx.AsyncClient, db: Database, settings: Settings, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("processes share revocations through PostgreSQL's NOTIFY (or Redis)")
    env = {
        # The other process has the backends of this one: with REDIS_URL (the distributed
        # shape) revocations travel on Redis, without it on PostgreSQL's NOTIFY.
        **worker_env(settings),
        "MEDIA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        # Long enough that only the notification can make the other process forget.
        "PRINCIPAL_CACHE_SECONDS": "3600",
    }
    port = free_port()
    other = serve(env, port, tmp_path / "server.log")
    try:
        token = await _token(client, await make_user(db))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as far:
            assert (await far.get("/api/v1/me", headers=token)).status_code == 200  # remembered
            assert (await client.post("/api/v1/auth/logout", headers=token)).status_code == 204
            status, deadline = 200, time.monotonic() + 30
            while status == 200 and time.monotonic() < deadline:
                status = (await far.get("/api/v1/me", headers=token)).status_code
                await asyncio.sleep(0.05)
            assert status == 401
    finally:
        other.terminate()
        other.wait(timeout=15)
