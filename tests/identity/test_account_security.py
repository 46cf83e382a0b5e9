"""Accounts under attack: no lockout of the owner by a guesser, no account enumeration at
sign-up, and a password change that ends the other sessions."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import httpx
from fastapi import FastAPI

from certplatform.kernel.db import Database
from tests.support.accounts import PASSWORD, client_from, make_user


def clear_mail(mail_dir: Path) -> None:
    for old in mail_dir.glob("*.eml"):
        old.unlink()


def read_mail(mail_dir: Path) -> list[Message]:
    return [
        message_from_bytes(path.read_bytes(), policy=default)
        for path in sorted(mail_dir.glob("*.eml"))
    ]


ATTACKER = "198.51.100.7"
OWNER = "203.0.113.9"


async def test_a_guesser_is_throttled_but_cannot_lock_the_owner_out(
    app: FastAPI, db: Database
) -> None:
    email = await make_user(db)
    async with client_from(app, ATTACKER) as attacker, client_from(app, OWNER) as owner:
        for n in range(5):
            guess = {"email": email, "password": f"guess number {n}"}
            assert (await attacker.post("/api/v1/auth/token", json=guess)).status_code == 401

        signed_in = await owner.post(
            "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text

        still = await attacker.post(
            "/api/v1/auth/token", json={"email": email, "password": "guess number 6"}
        )
        assert still.status_code == 429
        assert "Too many failed sign-ins" in still.json()["error"]["message"]
        assert int(still.headers["retry-after"]) >= 1


async def test_many_addresses_guessing_one_account_meet_the_account_limit(
    app: FastAPI, db: Database
) -> None:
    # The test settings allow 12 failures per account from all addresses a minute.
    email = await make_user(db)
    for host in range(3):
        async with client_from(app, f"198.51.100.{host + 10}") as attacker:
            for n in range(4):
                guess = {"email": email, "password": f"guess number {n}"}
                assert (await attacker.post("/api/v1/auth/token", json=guess)).status_code == 401
    async with client_from(app, "198.51.100.99") as another:
        guess = {"email": email, "password": "guess number 13"}
        blocked = await another.post("/api/v1/auth/token", json=guess)
    assert blocked.status_code == 429
    assert "from many places" in blocked.json()["error"]["message"]
    assert int(blocked.headers["retry-after"]) >= 1


async def test_sign_up_replies_the_same_for_a_taken_address(
    client: httpx.AsyncClient, db: Database, mail_dir: Path
) -> None:
    email = await make_user(db, "learner", "taken@example.com")
    clear_mail(mail_dir)
    fresh = await client.post(
        "/api/v1/accounts", json={"email": "fresh@example.com", "password": "plum orbit candle"}
    )
    taken = await client.post(
        "/api/v1/accounts", json={"email": "Taken@Example.com", "password": "plum orbit candle"}
    )
    assert fresh.status_code == taken.status_code == 202
    assert fresh.json() == taken.json()
    for reply in (fresh, taken):
        assert "cp_session" not in reply.headers.get("set-cookie", "")
    # The mails go through MAIL_BACKEND (files in the tests), in the order they were sent.
    mails = read_mail(mail_dir)
    assert [(m["To"], m["Subject"].split(" · ")[0]) for m in mails] == [
        ("fresh@example.com", "Welcome to cert-platform"),
        ("taken@example.com", "You already have an account"),
    ]
    # The taken account is untouched: its owner's password works, the claimant's does not.
    owner = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert owner.status_code == 200
    claimant = await client.post(
        "/api/v1/auth/token", json={"email": email, "password": "plum orbit candle"}
    )
    assert claimant.status_code == 401


async def test_sign_up_page_redirects_the_same_way_and_opens_no_session(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_user(db, "learner", "taken@example.com")
    await client.get("/signup")
    csrf = client.cookies["cp_csrf"]
    replies = [
        await client.post(
            "/signup",
            data={"email": email, "password": "plum orbit candle", "csrf_token": csrf},
        )
        for email in ("fresh@example.com", "taken@example.com")
    ]
    for reply in replies:
        assert reply.status_code == 303
        assert reply.headers["location"] == "/signin?signed_up=1"
        assert "cp_session" not in reply.headers.get("set-cookie", "")
    client.cookies.set("lang", "en")
    notice = await client.get("/signin?signed_up=1")
    assert "Check your email to finish signing up" in notice.text


async def test_sign_ups_are_limited_per_address(app: FastAPI, db: Database) -> None:
    # The test settings allow 5 sign-ups per address a minute.
    async with client_from(app, ATTACKER) as attacker, client_from(app, OWNER) as other:
        for n in range(5):
            body = {"email": f"probe{n}@example.com", "password": "plum orbit candle"}
            assert (await attacker.post("/api/v1/accounts", json=body)).status_code == 202
        body = {"email": "probe9@example.com", "password": "plum orbit candle"}
        blocked = await attacker.post("/api/v1/accounts", json=body)
        assert blocked.status_code == 429
        assert "Too many sign-ups" in blocked.json()["error"]["message"]
        assert int(blocked.headers["retry-after"]) >= 1
        assert (await other.post("/api/v1/accounts", json=body)).status_code == 202

        await attacker.get("/signup")
        page = await attacker.post(
            "/signup",
            data={
                "email": "probe10@example.com",
                "password": "plum orbit candle",
                "csrf_token": attacker.cookies["cp_csrf"],
            },
        )
        assert page.status_code == 429
        assert int(page.headers["retry-after"]) >= 1


async def test_a_password_change_ends_the_other_sessions_and_tokens(
    app: FastAPI, db: Database
) -> None:
    email = await make_user(db)
    credentials = {"email": email, "password": PASSWORD}
    async with client_from(app, OWNER) as here, client_from(app, OWNER) as elsewhere:
        login = await here.post("/api/v1/auth/login", json=credentials)
        assert (await elsewhere.post("/api/v1/auth/login", json=credentials)).status_code == 200
        other_token = await bearer_for(app, email)

        change = {"current_password": PASSWORD, "new_password": "a new long password"}
        changed = await here.post(
            "/api/v1/me/password", json=change, headers={"x-csrf-token": login.json()["csrf_token"]}
        )
        assert changed.status_code == 204

        assert (await here.get("/api/v1/me")).status_code == 200
        assert (await elsewhere.get("/api/v1/me")).status_code == 401
    async with client_from(app, OWNER) as api:
        assert (await api.get("/api/v1/me", headers=other_token)).status_code == 401


async def test_a_password_change_by_token_keeps_that_token_only(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db)
    first = await bearer_for(app, email)
    second = await bearer_for(app, email)
    change = {"current_password": PASSWORD, "new_password": "a new long password"}
    assert (await client.post("/api/v1/me/password", json=change, headers=first)).status_code == 204
    assert (await client.get("/api/v1/me", headers=first)).status_code == 200
    assert (await client.get("/api/v1/me", headers=second)).status_code == 401


async def test_the_settings_page_changes_the_password_and_stays_signed_in(
    app: FastAPI, db: Database
) -> None:
    email = await make_user(db)
    credentials = {"email": email, "password": PASSWORD}
    async with client_from(app, OWNER) as here, client_from(app, OWNER) as elsewhere:
        login = await here.post("/api/v1/auth/login", json=credentials)
        assert (await elsewhere.post("/api/v1/auth/login", json=credentials)).status_code == 200
        here.cookies.set("lang", "en")
        reply = await here.post(
            "/settings/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a new long password",
                "csrf_token": login.json()["csrf_token"],
            },
        )
        assert reply.status_code == 200
        assert "Every other session has been signed out" in reply.text
        assert (await here.get("/settings")).status_code == 200
        assert (await elsewhere.get("/api/v1/me")).status_code == 401


async def bearer_for(app: FastAPI, email: str) -> dict[str, str]:
    async with client_from(app, OWNER) as api:
        reply = await api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}
