"""Account mail over HTTP (ADR 25): password reset and address change, with the mail read
from the file backend the test settings use."""

from __future__ import annotations

import asyncio
import email
import re
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from certplatform.kernel.db import Database, utcnow
from tests.support.accounts import PASSWORD, client_from, make_user

NEW_PASSWORD = "purple otter lantern river"
CSRF = "test-anonymous-csrf"
SAME_REPLY = "If an account uses that address"


def _mails(mail_dir: Path, to: str | None = None) -> list[EmailMessage]:
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        if to is None or message["To"] == to:
            found.append(message)
    return found


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def _link(message: EmailMessage, kind: str) -> str:
    found = re.search(rf"http://test(/{kind}/[A-Za-z0-9_-]+)", _body(message))
    assert found, _body(message)
    return found[1]


def _clear(mail_dir: Path) -> None:
    for path in mail_dir.glob("*.eml"):
        path.unlink()


def _anonymous(http: httpx.AsyncClient) -> None:
    http.cookies.set("cp_csrf", CSRF)
    http.cookies.set("lang", "en")


async def _forgot(http: httpx.AsyncClient, address: str) -> httpx.Response:
    _anonymous(http)
    return await http.post("/password/forgot", data={"email": address, "csrf_token": CSRF})


async def _login(http: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", json={"email": address, "password": password})


async def test_reset_by_mail_works_once_and_ends_every_session(
    client: httpx.AsyncClient, db: Database, mail_dir: Path
) -> None:
    _clear(mail_dir)
    address = await make_user(db, "learner", "reset@example.com")
    token = (await _login(client, address, PASSWORD)).json()["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 200

    known = await _forgot(client, address)
    unknown = await _forgot(client, "nobody@example.com")
    # No account enumeration: the same status and the same page for both.
    assert known.status_code == unknown.status_code == 200
    assert SAME_REPLY in known.text
    assert SAME_REPLY in unknown.text
    assert known.text == unknown.text
    assert _mails(mail_dir, "nobody@example.com") == []
    [mail] = _mails(mail_dir, address)
    link = _link(mail, "password/reset")

    assert (await client.get(link)).status_code == 200
    weak = await client.post(link, data={"new_password": "short", "csrf_token": CSRF})
    assert weak.status_code == 422
    assert (await client.get(link)).status_code == 200, "a refused password spends nothing"

    done = await client.post(link, data={"new_password": NEW_PASSWORD, "csrf_token": CSRF})
    assert done.status_code == 303
    assert done.headers["location"] == "/signin?reset=1"
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401
    assert (await _login(client, address, PASSWORD)).status_code == 401
    assert (await _login(client, address, NEW_PASSWORD)).status_code == 200

    again = await client.post(
        link, data={"new_password": "another fine phrase", "csrf_token": CSRF}
    )
    assert again.status_code == 422
    assert (await client.get(link)).status_code == 410
    assert (await _login(client, address, NEW_PASSWORD)).status_code == 200
    assert any("reset" in _body(m) for m in _mails(mail_dir, address)[1:])


async def test_a_link_used_twice_at_once_works_once(
    client: httpx.AsyncClient, db: Database, mail_dir: Path
) -> None:
    _clear(mail_dir)
    address = await make_user(db, "learner", "twice@example.com")
    await _forgot(client, address)
    link = _link(_mails(mail_dir, address)[0], "password/reset")
    passwords = ["first winner phrase here", "second winner phrase here"]
    replies = await asyncio.gather(
        *(client.post(link, data={"new_password": p, "csrf_token": CSRF}) for p in passwords)
    )
    assert sorted(r.status_code for r in replies) == [303, 422]
    winner = passwords[[r.status_code for r in replies].index(303)]
    loser = passwords[1 - passwords.index(winner)]
    assert (await _login(client, address, winner)).status_code == 200
    assert (await _login(client, address, loser)).status_code == 401


async def test_expired_links_and_links_older_than_a_password_change_are_refused(
    client: httpx.AsyncClient, db: Database, mail_dir: Path
) -> None:
    _clear(mail_dir)
    address = await make_user(db, "learner", "old@example.com")
    await _forgot(client, address)
    await _forgot(client, address)
    first, second = (_link(m, "password/reset") for m in _mails(mail_dir, address))
    async with db.transaction() as uow:
        await uow.session.execute(
            text(
                "UPDATE account_tokens SET expires_at = :past WHERE id IN "
                "(SELECT id FROM account_tokens ORDER BY created_at LIMIT 1)"
            ),
            {"past": utcnow() - timedelta(minutes=1)},
        )
    assert (await client.get(first)).status_code == 410
    expired = await client.post(first, data={"new_password": NEW_PASSWORD, "csrf_token": CSRF})
    assert expired.status_code == 422
    assert (await client.get(second)).status_code == 200
    # The owner changes the password while signed in: the mailed link is spent with it.
    login = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    csrf = login.json()["csrf_token"]
    changed = await client.post(
        "/settings/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert changed.status_code == 200, changed.text
    client.cookies.clear()
    _anonymous(client)
    assert (await client.get(second)).status_code == 410
    late = await client.post(
        second, data={"new_password": "late phrase for reset", "csrf_token": CSRF}
    )
    assert late.status_code == 422
    assert (await _login(client, address, NEW_PASSWORD)).status_code == 200


async def test_requests_are_limited_per_address_and_per_network(
    app: FastAPI, db: Database, mail_dir: Path
) -> None:
    _clear(mail_dir)
    address = await make_user(db, "learner", "limited@example.com")
    # Per address, from many networks: the reply stays the same, the mails stop at three.
    for n in range(5):
        async with client_from(app, f"10.0.0.{n + 1}") as http:
            reply = await _forgot(http, address)
            assert reply.status_code == 200
            assert SAME_REPLY in reply.text
    assert len(_mails(mail_dir, address)) == 3
    # Per network: past the limit a 429 with Retry-After, whichever addresses are asked.
    async with client_from(app, "10.9.9.9") as http:
        codes = [(await _forgot(http, f"u{n}@example.com")).status_code for n in range(21)]
        assert codes[:20] == [200] * 20
        assert codes[20] == 429
        last = await _forgot(http, address)
        assert last.status_code == 429
        assert int(last.headers["retry-after"]) >= 1


async def test_address_change_is_confirmed_from_the_new_address(
    client: httpx.AsyncClient, db: Database, mail_dir: Path
) -> None:
    _clear(mail_dir)
    address = await make_user(db, "learner", "before@example.com")
    await make_user(db, "learner", "taken@example.com")
    login = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    csrf = login.json()["csrf_token"]

    wrong = await client.post(
        "/settings/email",
        data={"new_email": "after@example.com", "email_password": "nope", "csrf_token": csrf},
    )
    assert wrong.status_code == 422
    assert _mails(mail_dir) == []
    taken = await client.post(
        "/settings/email",
        data={"new_email": "taken@example.com", "email_password": PASSWORD, "csrf_token": csrf},
    )
    asked = await client.post(
        "/settings/email",
        data={"new_email": "after@example.com", "email_password": PASSWORD, "csrf_token": csrf},
    )
    assert taken.status_code == asked.status_code == 200
    # A taken address gets a notice and no link; the reply does not tell the difference.
    [notice_to_taken] = _mails(mail_dir, "taken@example.com")
    assert "/email/confirm/" not in _body(notice_to_taken)
    [to_new] = _mails(mail_dir, "after@example.com")
    [to_old] = _mails(mail_dir, address)
    assert "after@example.com" in _body(to_old)
    assert "/email/confirm/" not in _body(to_old)
    link = _link(to_new, "email/confirm")

    client.cookies.clear()
    _anonymous(client)
    assert (await client.get(link)).status_code == 200  # a scanner's GET spends nothing
    confirmed = await client.post(link, data={"csrf_token": CSRF})
    assert confirmed.status_code == 200
    assert "after@example.com" in confirmed.text
    assert (await client.post(link, data={"csrf_token": CSRF})).status_code == 422
    assert (await _login(client, "after@example.com", PASSWORD)).status_code == 200
    assert (await _login(client, address, PASSWORD)).status_code == 401
    assert any("after@example.com" in _body(m) for m in _mails(mail_dir, address)[1:])
