"""Group mock exams in study rooms (ADR 0030), over the socket and REST of a live
`certplatform serve` process: who takes part, what the room sees while it runs (counts,
never answers), the server's deadline, the debrief and the members' review queues."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import func, select, update

from certplatform.community import group_exam, rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.community.models import GroupExam
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.errors import Conflict
from certplatform.kernel.storage import LocalStorage
from certplatform.learning import service as learning
from certplatform.learning.models import Attempt
from certplatform.learning.tasks import sweep_deadlines
from tests.community.test_rooms_socket import QUIET, _eventually, _user, peer
from tests.support.browser import live_server
from tests.support.exams import blueprint_id, keys_of, load, save, wrong_key

FCC = "US-FCC-TECHNICIAN"
PROGRESS_FIELDS = {"user_id", "name", "answered", "total", "submitted"}


@pytest.fixture(scope="module")
def server(app: FastAPI, database_url: str, media_dir: Path) -> Iterator[str]:
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(media_dir),
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "LOGIN_LIMIT_IP": "100000/minute",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
        "SWEEPER_INTERVAL": "0",  # the test runs the deadline sweeper itself
    }
    with live_server(env) as url:
        yield url


async def _private_room(db: Database, owner: Principal, *members: Principal) -> str:
    async with db.transaction() as uow:
        room = await rooms.create_room(
            uow, owner, RoomIn(name="Group", visibility=Visibility.PRIVATE)
        )
        for member in members:
            await rooms.add_member(uow, owner, room.id, member.email)
    return room.id


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _answer(
    http: httpx.AsyncClient, db: Database, token: str, attempt: str, wrong: set[int]
) -> dict[int, str]:
    """Answer every question, right except the positions in `wrong`."""
    view = (await http.get(f"/api/v1/attempts/{attempt}", headers=_bearer(token))).json()
    keys = await keys_of(db, view)
    for item in view["items"]:
        n = item["position"]
        choice = wrong_key(item, keys[n]) if n in wrong else keys[n][0]
        saved = await save(http, _bearer(token), attempt, n, choice)
        assert saved.status_code == 200, saved.text
    return {i["position"]: i["question"]["question_id"] for i in view["items"]}


def _no_answers_in(events: list[tuple[str, Any]]) -> None:
    """What the room hears about a running exam: counts, never a response or a key."""
    for name, data in events:
        text = json.dumps(data)
        for word in ('"response"', '"answer"', '"choices"', '"key"', '"percent"'):
            assert word not in text, (name, word)


async def test_group_exam_over_the_socket_and_rest(
    server: str, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    blueprint = await blueprint_id(db, FCC)
    owner, owner_token = await _user(server, db, "group-owner@example.com")
    member, member_token = await _user(server, db, "group-member@example.com")
    late, late_token = await _user(server, db, "group-late@example.com")
    _outsider, outsider_token = await _user(server, db, "group-outsider@example.com")
    room_id = await _private_room(db, owner, member, late)
    async with (
        httpx.AsyncClient(base_url=server) as http,
        peer(server, owner_token) as a,
        peer(server, member_token) as b,
        peer(server, outsider_token) as outsider,
    ):
        for client in (a, b):
            assert (await client.call("join", {"room_id": room_id}))["ok"]
        assert not (await outsider.call("join", {"room_id": room_id}))["ok"]
        # Only the owner starts; the outsider is refused without learning anything.
        refused = await b.call("group_start", {"room_id": room_id, "blueprint_id": blueprint})
        assert refused["error"]["code"] == "forbidden"
        refused = await outsider.call(
            "group_start", {"room_id": room_id, "blueprint_id": blueprint}
        )
        assert refused["error"]["code"] == "not_in_room"
        started = await a.call("group_start", {"room_id": room_id, "blueprint_id": blueprint})
        assert started["ok"], started
        exam = started["exam"]
        assert {p["user_id"] for p in exam["people"]} == {owner.user_id, member.user_id}
        assert exam["question_count"] == 35
        assert exam["state"] == "running"
        await _eventually(lambda: a.got("group_exam") and b.got("group_exam"))
        assert b.got("group_exam")[0]["my_attempt_id"] is None  # each asks for their own
        again = await a.call("group_start", {"room_id": room_id, "blueprint_id": blueprint})
        assert again["error"]["code"] == "conflict"

        mine = (await b.call("group_state", {"room_id": room_id}))["exam"]
        owner_attempt, member_attempt = exam["my_attempt_id"], mine["my_attempt_id"]
        assert owner_attempt
        assert member_attempt
        assert owner_attempt != member_attempt
        # One clock and one form for both.
        views = [
            (await http.get(f"/api/v1/attempts/{a_id}", headers=_bearer(t))).json()
            for a_id, t in ((owner_attempt, owner_token), (member_attempt, member_token))
        ]
        assert views[0]["deadline_at"] == views[1]["deadline_at"] == exam["deadline_at"]
        assert views[0]["started_at"] == views[1]["started_at"]
        assert [i["question"]["question_id"] for i in views[0]["items"]] == [
            i["question"]["question_id"] for i in views[1]["items"]
        ]
        # No one opens another member's attempt.
        peek = await http.get(f"/api/v1/attempts/{member_attempt}", headers=_bearer(owner_token))
        assert peek.status_code == 404

        # A member who was not here, and a non-member, have no seat.
        late_view = await http.get(
            f"/api/v1/rooms/{room_id}/group-exam", headers=_bearer(late_token)
        )
        assert late_view.status_code == 200
        assert late_view.json()["my_attempt_id"] is None
        gone = await http.get(
            f"/api/v1/rooms/{room_id}/group-exam", headers=_bearer(outsider_token)
        )
        assert gone.status_code == 404
        early = await http.get(
            f"/api/v1/group-exams/{exam['id']}/debrief", headers=_bearer(member_token)
        )
        assert early.status_code == 409  # nothing about the questions before the end

        positions = await _answer(http, db, owner_token, owner_attempt, wrong={10, 20})
        await _answer(http, db, member_token, member_attempt, wrong={10})

        def counts() -> dict[str, int]:
            last = a.got("group_progress")[-1]["people"] if a.got("group_progress") else []
            return {p["user_id"]: p["answered"] for p in last}

        await _eventually(lambda: counts() == {owner.user_id: 35, member.user_id: 35})
        for update_ in a.got("group_progress"):
            assert all(set(p) == PROGRESS_FIELDS for p in update_["people"])
        _no_answers_in(a.events + b.events)
        await asyncio.sleep(QUIET)
        assert outsider.events == []

        # The server's deadline: past it (and the grace), saves are refused and the
        # sweeper submits both attempts; then the room hears that the exam finished.
        async with db.transaction() as uow:
            past = utcnow() - timedelta(hours=1)
            await uow.session.execute(
                update(Attempt)
                .where(Attempt.id.in_([owner_attempt, member_attempt]))
                .values(deadline_at=past)
            )
        late_save = await save(http, _bearer(member_token), member_attempt, 1, "1", seq=9)
        assert late_save.status_code == 409
        assert await sweep_deadlines(db, grace_seconds=5) == 2
        await _eventually(lambda: a.got("group_finished") and b.got("group_finished"))

        state = await b.call("group_state", {"room_id": room_id})
        debrief = state["debrief"]
        assert state["exam"]["state"] == "finished"
        rates = {q["position"]: q["rate"] for q in debrief["questions"]}
        assert rates[10] == 0.0
        assert rates[20] == 0.5
        assert all(rate == 1.0 for n, rate in rates.items() if n not in (10, 20))
        assert [q["position"] for q in debrief["most_missed"]] == [10, 20]
        assert debrief["mine"]["attempt_id"] == member_attempt  # one's own score only
        assert round(debrief["mine"]["percent"]) == round(34 / 35 * 100)
        rest = await http.get(
            f"/api/v1/group-exams/{exam['id']}/debrief", headers=_bearer(owner_token)
        )
        assert rest.status_code == 200
        assert rest.json()["mine"]["attempt_id"] == owner_attempt
        assert round(rest.json()["mine"]["percent"]) == round(33 / 35 * 100)
        for who in (late_token, outsider_token):
            denied = await http.get(
                f"/api/v1/group-exams/{exam['id']}/debrief", headers=_bearer(who)
            )
            assert denied.status_code == 404

    # The most missed are due in both members' review queues, and only those.
    missed = {positions[10], positions[20]}
    for who in (owner, member):
        async with db.transaction() as uow:
            due = await learning.due_reviews(uow, who, FCC)
        assert {c.question_id for c in due} == missed


async def test_concurrent_starts_make_one_group_exam(
    server: str, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    blueprint = await blueprint_id(db, FCC)
    owner, _ = await _user(server, db, "race-owner@example.com")
    member, _ = await _user(server, db, "race-member@example.com")
    room_id = await _private_room(db, owner, member)

    async def start() -> str:
        async with db.transaction() as uow:
            started = await group_exam.start(uow, owner, room_id, blueprint, [member.user_id])
        return started.id

    results = await asyncio.gather(*(start() for _ in range(4)), return_exceptions=True)
    won = [r for r in results if isinstance(r, str)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, str)), results
    async with db.transaction() as uow:
        exams = await uow.session.scalar(select(func.count()).select_from(GroupExam))
        attempts = await uow.session.scalar(select(func.count()).select_from(Attempt))
    assert exams == 1
    assert attempts == 2


async def test_submitting_finishes_the_exam_and_rest_start_takes_members_only(
    server: str, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    blueprint = await blueprint_id(db, FCC)
    owner, owner_token = await _user(server, db, "rest-owner@example.com")
    member, member_token = await _user(server, db, "rest-member@example.com")
    stranger, _ = await _user(server, db, "rest-stranger@example.com")
    room_id = await _private_room(db, owner, member)
    async with httpx.AsyncClient(base_url=server) as http:
        url = f"/api/v1/rooms/{room_id}/group-exams"
        body = {"blueprint_id": blueprint, "member_ids": [member.user_id, stranger.user_id]}
        by_member = await http.post(url, json=body, headers=_bearer(member_token))
        assert by_member.status_code == 403
        too_many = {"blueprint_id": blueprint, "member_ids": ["x"] * 31}
        assert (
            await http.post(url, json=too_many, headers=_bearer(owner_token))
        ).status_code == 422
        started = await http.post(url, json=body, headers=_bearer(owner_token))
        assert started.status_code == 201, started.text
        exam = started.json()
        # The stranger is not a member of the room: no seat.
        assert {p["user_id"] for p in exam["people"]} == {owner.user_id, member.user_id}
        seats = {
            t: (await http.get(f"/api/v1/rooms/{room_id}/group-exam", headers=_bearer(t))).json()[
                "my_attempt_id"
            ]
            for t in (owner_token, member_token)
        }
        for token, attempt in seats.items():
            done = await http.post(f"/api/v1/attempts/{attempt}/submit", headers=_bearer(token))
            assert done.status_code == 200, done.text
        debrief = await http.get(
            f"/api/v1/group-exams/{exam['id']}/debrief", headers=_bearer(member_token)
        )
        assert debrief.status_code == 200, debrief.text
        # Nobody answered: every question was missed by all; the first five are queued.
        assert [q["position"] for q in debrief.json()["most_missed"]] == [1, 2, 3, 4, 5]
        # A new group exam may start now that this one finished.
        next_one = await http.post(url, json=body, headers=_bearer(owner_token))
        assert next_one.status_code == 201, next_one.text


async def test_the_socket_websocket_negotiates_no_compression(server: str) -> None:
    """No permessage-deflate: its zlib context per connection cost about half of a held
    socket's memory (ADR 0030), whatever the browser offers."""
    url = server.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, compression="deflate") as ws:
        assert (await ws.recv()).startswith("0")  # Engine.IO open: the socket works
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
