"""Roles of one image (ADR 0019): each mounts only its routes; split into processes on one
database, they still run the learner's flow end to end."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from certplatform.app import create_app
from certplatform.kernel.db import Database
from certplatform.kernel.settings import Settings, to_async_url
from certplatform.kernel.storage import LocalStorage
from certplatform.roles import Role
from tests.conftest import DEFAULT_PG
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import live_server
from tests.support.exams import load

CERT = "KR-INFO-ENGINEER"


@pytest.mark.parametrize(
    ("role", "served", "absent"),
    [
        (Role.web, ["/signin", "/certifications"], ["/api/v1/certifications", "/admin"]),
        (Role.admin, ["/signin"], ["/api/v1/certifications", "/certifications"]),
        (Role.gateway, ["/api/v1/certifications"], ["/signin", "/static/app.css"]),
        (Role.content, ["/api/v1/certifications"], ["/api/v1/bookmarks", "/signin"]),
        (Role.learning, [], ["/api/v1/certifications", "/graphql", "/signin"]),
        (Role.analytics, [], ["/api/v1/certifications", "/signin", "/"]),
    ],
)
async def test_a_role_mounts_only_its_routes(
    settings: Settings, role: Role, served: list[str], absent: list[str]
) -> None:
    app = create_app(settings, role)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok", "role": role.value}
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        for path in served:
            assert (await http.get(path)).status_code == 200, path
        for path in absent:
            assert (await http.get(path)).status_code == 404, path


async def test_the_learner_flow_across_role_processes(
    backend: str, database_url: str, media_dir: Path, db: Database, storage: LocalStorage
) -> None:
    if backend != "postgresql":
        pytest.skip("the split deployment runs on PostgreSQL")
    await load(db, storage, CERT)
    email = await make_user(db, "learner", "split@example.com")
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "SWEEPER_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    with ExitStack() as stack:
        web = stack.enter_context(live_server(env, "--role", "web", "--no-migrate"))
        gateway = stack.enter_context(live_server(env, "--role", "gateway", "--no-migrate"))
        async with httpx.AsyncClient(base_url=gateway) as api:
            token = await api.post(
                "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
            )
            auth = {"authorization": f"Bearer {token.json()['access_token']}"}
            started = await api.post(
                "/api/v1/practice/sessions", json={"certification": CERT, "limit": 1}, headers=auth
            )
            assert started.status_code == 201, started.text
            question = await api.get(
                f"/api/v1/practice/sessions/{started.json()['id']}/questions/0", headers=auth
            )
            assert question.status_code == 200, question.text
            question_id = question.json()["question"]["question_id"]
            marked = await api.put(f"/api/v1/bookmarks/{question_id}", headers=auth)
            assert marked.status_code == 204
            assert (await api.get("/bookmarks")).status_code == 404  # pages live on web
        async with httpx.AsyncClient(base_url=web) as site:
            form = await site.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf
            signed_in = await site.post(
                "/signin",
                data={"email": email, "password": PASSWORD, "csrf_token": csrf[1]},
            )
            assert signed_in.status_code == 303
            bookmarks = await site.get("/bookmarks")
            assert bookmarks.status_code == 200
            # The bookmark made through the gateway process shows on the web process's page.
            assert question_id in bookmarks.text
            assert (await site.get("/api/v1/bookmarks")).status_code == 404


async def test_roles_starting_together_migrate_one_at_a_time(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer; the race is PostgreSQL's")
    server = make_url(to_async_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)))
    name = f"{server.database}_certplatform_race_{os.getpid()}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "DATABASE_URL": url}
        command = [sys.executable, "-m", "certplatform.cli", "db", "upgrade"]
        runs = [
            await asyncio.create_subprocess_exec(
                *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(3)
        ]
        outputs = await asyncio.gather(*(run.communicate() for run in runs))
        assert [run.returncode for run in runs] == [0, 0, 0], [o[0][-800:] for o in outputs]
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
