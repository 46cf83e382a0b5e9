"""Typed helpers for accounts: make a user of a role, get its bearer header, call the app
from a chosen client address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from certplatform.identity import service
from certplatform.kernel.db import Database

PASSWORD = "correct horse battery"


async def make_user(db: Database, role: str = "learner", email: str | None = None) -> str:
    email = email or f"{role}@example.com"
    async with db.transaction() as uow:
        await service.create_user(uow, email, PASSWORD, role=role)
    return email


async def bearer(client: httpx.AsyncClient, db: Database, role: str = "learner") -> dict[str, str]:
    """Create an account of `role` and return the Authorization header of a fresh token."""
    email = await make_user(db, role, f"{role}-{id(client)}@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


@asynccontextmanager
async def client_from(app: FastAPI, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose TCP peer address, as the app sees it, is `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
