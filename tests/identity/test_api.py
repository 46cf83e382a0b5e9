"""Accounts, sign-in by cookie and bearer token, CSRF, rate limits, roles."""

from __future__ import annotations

import httpx

from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, bearer, make_user


async def test_sign_up_then_sign_in_with_a_bearer_token(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/accounts", json={"email": "New@Example.com", "password": "long enough"}
    )
    assert created.status_code == 202, created.text
    assert created.json() == {
        "status": "pending",
        "message": "Check your email to finish signing up.",
    }
    assert "cp_session" not in created.headers.get("set-cookie", "")

    token = await client.post(
        "/api/v1/auth/token", json={"email": "new@example.com", "password": "long enough"}
    )
    assert token.status_code == 200
    me = await client.get(
        "/api/v1/me", headers={"authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["email"] == "new@example.com"
    assert me.json()["role"] == "learner"


async def test_wrong_password_is_401_and_says_nothing_more(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db)
    wrong = await client.post("/api/v1/auth/token", json={"email": email, "password": "nope-nope"})
    unknown = await client.post(
        "/api/v1/auth/token", json={"email": "ghost@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_failed_logins_per_account_are_limited_with_a_clear_429(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db)
    for _ in range(5):
        reply = await client.post(
            "/api/v1/auth/token", json={"email": email, "password": "bad-pass1"}
        )
        assert reply.status_code == 401
    blocked = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.json()["error"]["message"]
    assert int(blocked.headers["retry-after"]) >= 1


async def test_cookie_session_needs_the_csrf_token_for_writes(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db)
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    csrf = login.json()["csrf_token"]
    assert (await client.get("/api/v1/me")).status_code == 200

    change = {"current_password": PASSWORD, "new_password": "another password"}
    refused = await client.post("/api/v1/me/password", json=change)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    accepted = await client.post("/api/v1/me/password", json=change, headers={"x-csrf-token": csrf})
    assert accepted.status_code == 204


async def test_logout_ends_the_token(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(client, db)
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_only_admins_change_roles(client: httpx.AsyncClient, db: Database) -> None:
    admin = await bearer(client, db, "admin")
    author = await bearer(client, db, "author")
    learner_email = await make_user(db, "learner", "promote-me@example.com")
    users = (await client.get("/api/v1/users", headers=admin)).json()
    target = next(u for u in users if u["email"] == learner_email)

    refused = await client.put(
        f"/api/v1/users/{target['id']}/role", json={"role": "admin"}, headers=author
    )
    assert refused.status_code == 403
    changed = await client.put(
        f"/api/v1/users/{target['id']}/role", json={"role": "author"}, headers=admin
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "author"
    bad = await client.put(
        f"/api/v1/users/{target['id']}/role", json={"role": "king"}, headers=admin
    )
    assert bad.status_code == 422
