"""Typed helpers for accounts: make a user of a role and get its bearer header."""

from __future__ import annotations

import httpx

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
