"""The password policy (NIST SP 800-63B): length, a list of common passwords, not the email;
the same rules on sign-up, password change, admin-created accounts and the demo."""

from __future__ import annotations

import httpx
import pytest

from certplatform.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from certplatform.identity import service
from certplatform.kernel.db import Database
from certplatform.kernel.errors import Invalid
from tests.support.accounts import PASSWORD, make_user

REFUSED = [
    ("nine char", "password_too_short", "at least 10 characters"),
    ("x" * 129, "password_too_long", "128 characters at most"),
    ("password1234", "password_too_common", "too common"),
    ("QWERTYUIOP", "password_too_common", "too common"),
    ("alice@example.com", "password_like_email", "email address"),
    ("Alice2024!!", "password_like_email", "email address"),
]


@pytest.mark.parametrize(("password", "code", "says"), REFUSED)
async def test_sign_up_refuses_a_weak_password_and_creates_nothing(
    client: httpx.AsyncClient, db: Database, password: str, code: str, says: str
) -> None:
    reply = await client.post(
        "/api/v1/accounts", json={"email": "alice@example.com", "password": password}
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] == code
    assert says in reply.json()["error"]["message"]
    async with db.transaction() as uow:
        assert await service.find_user(uow, "alice@example.com") is None


async def test_sign_up_accepts_a_long_uncommon_password(client: httpx.AsyncClient) -> None:
    body = {"email": "alice@example.com", "password": "alice loves plum orbits"}
    assert (await client.post("/api/v1/accounts", json=body)).status_code == 202
    signed_in = await client.post("/api/v1/auth/token", json=body)
    assert signed_in.status_code == 200


async def test_password_change_follows_the_policy(client: httpx.AsyncClient, db: Database) -> None:
    email = await make_user(db)
    token = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    headers = {"authorization": f"Bearer {token.json()['access_token']}"}
    change = {"current_password": PASSWORD, "new_password": "1234567890"}
    refused = await client.post("/api/v1/me/password", json=change, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "password_too_common"
    still = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert still.status_code == 200


async def test_admin_and_cli_accounts_follow_the_policy(db: Database) -> None:
    with pytest.raises(Invalid) as refused:
        async with db.transaction() as uow:
            await service.create_user(uow, "staff@example.com", "password1234", role="author")
    assert refused.value.code == "password_too_common"
    async with db.transaction() as uow:
        assert await service.find_user(uow, "staff@example.com") is None


def test_the_published_demo_password_is_allowed() -> None:
    for email, _, _ in DEMO_ACCOUNTS:
        service.check_password(DEMO_PASSWORD, email)


async def test_the_sign_up_page_explains_a_refusal_in_korean(client: httpx.AsyncClient) -> None:
    await client.get("/signup")
    reply = await client.post(
        "/signup",
        data={
            "email": "alice@example.com",
            "password": "password1234",
            "csrf_token": client.cookies["cp_csrf"],
        },
    )
    assert reply.status_code == 422
    assert "너무 흔한 비밀번호입니다" in reply.text
