"""Study rooms over the socket itself (ADR 0024): python-socketio's client against a live
`certplatform serve` process. Who may connect, which events reach whom, bans, chat rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from fastapi import FastAPI

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database
from certplatform.kernel.errors import NotFound
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import live_server

QUIET = 1.0  # how long a socket must hear nothing to count as "nothing arrived"


@pytest.fixture(scope="module")
def server(app: FastAPI, database_url: str, media_dir: Path) -> Iterator[str]:
    # `app` first: the session's app has migrated the database the server will use.
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "ROOM_MESSAGE_LIMIT_USER": "8/minute",
        "LOGIN_LIMIT_IP": "100000/minute",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    with live_server(env) as url:
        yield url


class Peer:
    """A connected client that keeps every event it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.gone = asyncio.Event()

        @self.sio.on("*", namespace="/study")  # type: ignore[misc]
        async def anything(event: str, data: Any = None) -> None:
            self.events.append((event, data))

        @self.sio.on("disconnect", namespace="/study")  # type: ignore[misc]
        async def disconnected(*_: Any) -> None:
            self.gone.set()

    def got(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(event, payload, namespace="/study", timeout=10)
        return reply


async def _user(server: str, db: Database, email: str) -> tuple[Principal, str]:
    """An account, its principal for the service, and a fresh bearer token."""
    await make_user(db, "learner", email)
    async with httpx.AsyncClient(base_url=server) as http:
        reply = await http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    async with db.transaction() as uow:
        user = await identity.find_user(uow, email)
    assert user is not None
    principal = Principal(user.id, user.email, user.role, user.display_name, "bearer", "test")
    return principal, reply.json()["access_token"]


@asynccontextmanager
async def peer(url: str, token: str) -> AsyncIterator[Peer]:
    client = Peer()
    await client.sio.connect(url, namespaces=["/study"], auth={"token": token}, wait_timeout=10)
    try:
        yield client
    finally:
        await client.sio.disconnect()


async def _room(db: Database, owner: Principal, visibility: Visibility) -> str:
    async with db.transaction() as uow:
        room = await rooms.create_room(uow, owner, RoomIn(name="Room", visibility=visibility))
    return room.id


async def _eventually(check: Any, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_anonymous_and_bad_tokens_are_refused(server: str, db: Database) -> None:
    for auth in (None, {"token": "not-a-token"}, {"token": 12}, "junk"):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server, namespaces=["/study"], auth=auth, wait_timeout=5)
        assert not client.connected


async def test_the_session_cookie_connects_but_not_from_another_site(
    server: str, db: Database
) -> None:
    email = await make_user(db, "learner", "cookie-room@example.com")
    async with httpx.AsyncClient(base_url=server) as http:
        signed = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        cookie = f"cp_session={http.cookies['cp_session']}"
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server, namespaces=["/study"], headers={"Cookie": cookie})
    assert client.connected
    await client.disconnect()
    foreign = socketio.AsyncClient(reconnection=False)
    # Refused at the handshake; the client reports it one way or the other depending on
    # when it sees the server close (python-socketio's own wording: "Connection closed.").
    with pytest.raises((socketio.exceptions.ConnectionError, RuntimeError)):
        await foreign.connect(
            server,
            namespaces=["/study"],
            headers={"Cookie": cookie, "Origin": "https://evil.example"},
            wait_timeout=5,
        )
    assert not foreign.connected


async def test_no_event_reaches_a_room_the_caller_may_not_join(server: str, db: Database) -> None:
    owner, owner_token = await _user(server, db, "owner-private@example.com")
    _, outsider_token = await _user(server, db, "outsider@example.com")
    private = await _room(db, owner, Visibility.PRIVATE)
    invite = await _room(db, owner, Visibility.INVITE)
    async with peer(server, owner_token) as a, peer(server, outsider_token) as b:
        assert (await a.call("join", {"room_id": private}))["ok"]
        for room_id in (private, invite, "no-such-room"):
            refused = await b.call("join", {"room_id": room_id})
            assert refused["ok"] is False
            assert refused["error"]["code"] == "not_found"
        # Not joined: speaking, reading history or driving the timer is refused too.
        for event, payload in (
            ("say", {"room_id": private, "body": "let me in"}),
            ("history", {"room_id": private}),
            ("timer", {"room_id": private, "running": True}),
        ):
            assert (await b.call(event, payload))["ok"] is False, event
        said = await a.call("say", {"room_id": private, "body": "members only"})
        assert said["ok"], said
        await a.call("timer", {"room_id": private, "running": True})
        await _eventually(lambda: len(a.got("message")) == 1 and a.got("timer"))
        await asyncio.sleep(QUIET)
        assert b.events == []  # not the message, the timer or the presence of that room
        assert [m["body"] for m in a.got("message")] == ["members only"]


async def test_a_banned_member_is_disconnected_and_stays_out(server: str, db: Database) -> None:
    owner, owner_token = await _user(server, db, "owner-ban@example.com")
    member, member_token = await _user(server, db, "member-ban@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with peer(server, owner_token) as a:
        assert (await a.call("join", {"room_id": room_id}))["ok"]
        async with peer(server, member_token) as b:
            assert (await b.call("join", {"room_id": room_id}))["ok"]
            # A member may not ban; the owner may.
            refused = await b.call("ban", {"room_id": room_id, "user_id": owner.user_id})
            assert refused["ok"] is False
            assert (await a.call("ban", {"room_id": room_id, "user_id": member.user_id}))["ok"]
            await asyncio.wait_for(b.gone.wait(), 10)
            assert b.got("banned") == [{"room_id": room_id}]
        async with peer(server, member_token) as again:
            back = await again.call("join", {"room_id": room_id})
            assert back["ok"] is False
            assert back["error"]["code"] == "forbidden"
            await a.call("say", {"room_id": room_id, "body": "after the ban"})
            await asyncio.sleep(QUIET)
            assert again.got("message") == []
        presence = a.got("presence")[-1]["people"]
        assert [p["user_id"] for p in presence] == [owner.user_id]


async def test_chat_edit_delete_moderation_history_and_rate_limit(
    server: str, db: Database
) -> None:
    owner, owner_token = await _user(server, db, "owner-chat@example.com")
    _member, member_token = await _user(server, db, "member-chat@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with peer(server, owner_token) as a, peer(server, member_token) as b:
        for client in (a, b):
            assert (await client.call("join", {"room_id": room_id}))["ok"]
        hostile = '<script>alert(1)</script> **bold** <img src=x onerror="alert(2)">'
        said = (await b.call("say", {"room_id": room_id, "body": hostile}))["message"]
        assert "<script>" not in said["html"]
        assert "<img" not in said["html"]
        assert "&lt;script&gt;" in said["html"]
        assert "<strong>bold</strong>" in said["html"]
        assert (await b.call("say", {"room_id": room_id, "body": "   "}))["ok"] is False
        # Only the writer edits or deletes; the owner hides.
        assert (await a.call("edit", {"message_id": said["id"], "body": "mine now"}))["error"][
            "code"
        ] == "forbidden"
        edited = await b.call("edit", {"message_id": said["id"], "body": "fixed"})
        assert edited["ok"]
        assert edited["message"]["edited"]
        assert (await b.call("hide", {"message_id": said["id"]}))["ok"] is False
        hidden = await a.call("hide", {"message_id": said["id"]})
        assert hidden["ok"]
        assert hidden["message"]["body"] == ""
        second = (await b.call("say", {"room_id": room_id, "body": "second"}))["message"]
        gone = await b.call("delete", {"message_id": second["id"]})
        assert gone["message"]["deleted"]
        assert gone["message"]["html"] == ""
        await _eventually(lambda: len(a.got("message_changed")) == 3)
        # History pages backwards from a message.
        for n in range(4):
            assert (await a.call("say", {"room_id": room_id, "body": f"n{n}"}))["ok"]
        last = (await a.call("history", {"room_id": room_id}))["messages"]
        assert [m["body"] for m in last][-4:] == ["n0", "n1", "n2", "n3"]
        earlier = await a.call("history", {"room_id": room_id, "before": last[-4]["id"]})
        assert [m["id"] for m in earlier["messages"]] == [said["id"], second["id"]]
        # The member has sent 2 messages and 1 edit of 8 a minute.
        replies = [await b.call("say", {"room_id": room_id, "body": "spam"}) for _ in range(6)]
        assert [r["ok"] for r in replies] == [True] * 5 + [False]
        assert replies[-1]["error"]["code"] == "too_many_requests"
        assert replies[-1]["error"]["retry_after"] >= 1
        assert (await b.call("say", {"room_id": room_id, "body": "x" * 2001}))["ok"] is False


async def test_presence_and_the_shared_timer(server: str, db: Database) -> None:
    owner, owner_token = await _user(server, db, "owner-timer@example.com")
    member, member_token = await _user(server, db, "member-timer@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with peer(server, owner_token) as a, peer(server, member_token) as b:
        await a.call("join", {"room_id": room_id, "certification": "ENGINEER-IP"})
        joined = await b.call("join", {"room_id": room_id})
        people = {p["user_id"]: p["certification"] for p in joined["presence"]}
        assert people == {owner.user_id: "ENGINEER-IP", member.user_id: None}
        assert (await b.call("timer", {"room_id": room_id, "running": True}))["ok"] is False
        started = await a.call("timer", {"room_id": room_id, "running": True, "focus_minutes": 50})
        assert started["timer"]["focus_seconds"] == 3000
        assert started["timer"]["started_at"]
        await _eventually(lambda: len(b.got("timer")) == 1)
        assert b.got("timer")[0]["timer"] == started["timer"]
        bad = await a.call("timer", {"room_id": room_id, "running": True, "focus_minutes": 0})
        assert bad["ok"] is False
    async with peer(server, member_token) as c:
        rejoined = await c.call("join", {"room_id": room_id})
        assert rejoined["room"]["timer"]["started_at"] == started["timer"]["started_at"]
        assert [p["user_id"] for p in rejoined["presence"]] == [member.user_id]


async def test_a_signed_out_session_is_cut_off_on_its_next_event(server: str, db: Database) -> None:
    owner, token = await _user(server, db, "signout-room@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with peer(server, token) as a:
        assert (await a.call("join", {"room_id": room_id}))["ok"]
        async with httpx.AsyncClient(base_url=server) as http:
            out = await http.post(
                "/api/v1/auth/logout", headers={"authorization": f"Bearer {token}"}
            )
            assert out.status_code == 204
        reply = await a.call("say", {"room_id": room_id, "body": "still here?"})
        assert reply["ok"] is False
        assert reply["error"]["code"] == "not_authenticated"
        await asyncio.wait_for(a.gone.wait(), 10)


async def test_call_signals_reach_only_their_peer_and_the_call_holds_four(
    server: str, db: Database
) -> None:
    owner, owner_token = await _user(server, db, "owner-call@example.com")
    tokens = [owner_token]
    for n in range(4):
        tokens.append((await _user(server, db, f"caller{n}@example.com"))[1])
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with AsyncExitStack() as stack:
        peers = [await stack.enter_async_context(peer(server, t)) for t in tokens]
        for p in peers:
            assert (await p.call("join", {"room_id": room_id}))["ok"]
        first, second, third, fourth, fifth = peers
        offer = {"room_id": room_id, "kind": "offer", "data": {"type": "offer", "sdp": "v=0"}}
        # Not in the call yet: no signalling, to anyone.
        to_second = {**offer, "to": second.sio.get_sid("/study")}
        assert (await first.call("signal", to_second))["ok"] is False
        assert (await first.call("call_join", {"room_id": room_id}))["peers"] == []
        assert (await first.call("signal", to_second))["ok"] is False  # second is not in it
        joined = await second.call("call_join", {"room_id": room_id})
        assert [p["sid"] for p in joined["peers"]] == [first.sio.get_sid("/study")]
        assert (await first.call("signal", to_second))["ok"]
        await _eventually(lambda: len(second.got("signal")) == 1)
        got = second.got("signal")[0]
        assert got["from"] == first.sio.get_sid("/study")
        assert got["data"] == {"type": "offer", "sdp": "v=0"}
        for p in (third, fourth):
            assert (await p.call("call_join", {"room_id": room_id}))["ok"]
        full = await fifth.call("call_join", {"room_id": room_id})
        assert full["ok"] is False
        assert full["error"]["code"] == "call_full"
        huge = {**to_second, "data": {"sdp": "x" * 40_000}}
        assert (await first.call("signal", huge))["ok"] is False
        await asyncio.sleep(QUIET)
        assert [e for e, _ in third.events + fourth.events + fifth.events if e == "signal"] == []
        await second.call("call_leave", {"room_id": room_id})
        await _eventually(lambda: len(first.got("call_left")) == 1)
        assert (await fifth.call("call_join", {"room_id": room_id}))["ok"]


async def test_invite_and_private_rooms_admit_only_whom_they_should(
    server: str, db: Database
) -> None:
    owner, _ = await _user(server, db, "owner-doors@example.com")
    guest, guest_token = await _user(server, db, "guest-doors@example.com")
    invite_room = await _room(db, owner, Visibility.INVITE)
    private_room = await _room(db, owner, Visibility.PRIVATE)
    async with db.transaction() as uow:
        code = (await rooms.enter(uow, owner, invite_room)).invite_code
        listed = [r.id for r in await rooms.list_rooms(uow, guest)]
    assert code is not None
    assert listed == []  # neither room is listed to a stranger
    async with peer(server, guest_token) as g:
        assert (await g.call("join", {"room_id": invite_room}))["ok"] is False
        assert (await g.call("join", {"room_id": private_room}))["ok"] is False
        async with db.transaction() as uow:
            with pytest.raises(NotFound):
                await rooms.room_by_invite(uow, guest, "wrong-code")
            with pytest.raises(NotFound):  # a stranger may not add members, nor learn of it
                await rooms.add_member(uow, guest, private_room, "owner-doors@example.com")
        async with db.transaction() as uow:
            await rooms.room_by_invite(uow, guest, code)
            await rooms.add_member(uow, owner, private_room, "guest-doors@example.com")
        assert (await g.call("join", {"room_id": invite_room}))["ok"]
        assert (await g.call("join", {"room_id": private_room}))["ok"]


async def test_a_flood_of_events_is_turned_away(server: str, db: Database) -> None:
    owner, token = await _user(server, db, "flood-room@example.com")
    room_id = await _room(db, owner, Visibility.PUBLIC)
    async with peer(server, token) as a:
        assert (await a.call("join", {"room_id": room_id}))["ok"]
        replies = await asyncio.gather(
            *(a.call("history", {"room_id": room_id}) for _ in range(120))
        )
        codes = [r["error"]["code"] for r in replies if not r["ok"]]
        assert len(codes) >= 20  # at most 100 events in 10 s, the join among them
        assert set(codes) == {"too_many_requests"}
