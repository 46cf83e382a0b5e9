"""The study rooms' real-time edge: Socket.IO on the namespace `/study` (ADR 0024).

A connection is accepted only with a live session: the bearer token in the `auth` payload
(`{"token": "…"}`) or the session cookie (same-origin only: python-socketio refuses other
origins by default, which stops cross-site use of the cookie). Every event asks the
principal again (from the per-process cache, ADR 0020) and asks `rooms` whether the caller
is still a member in good standing, so a sign-out or a ban holds on the next event. A
socket receives a room's events only after `join` succeeded: that check is the only way
into a Socket.IO room. Replies are acknowledgements `{"ok": true, …}` or
`{"ok": false, "error": {"code", "message"}}` with the message in the caller's language.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any, Literal

import socketio
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from certplatform.community import group_exam, rooms
from certplatform.community.contracts import MessageIn, MessageOut
from certplatform.identity import service as identity
from certplatform.identity.api import SESSION_COOKIE
from certplatform.kernel.auth import Principal, allowed
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.errors import AppError, Invalid, TooManyRequests
from certplatform.web import i18n
from certplatform.web.markdown import render
from certplatform.web.security import LANG_COOKIE

log = structlog.get_logger(__name__)
NAMESPACE = "/study"
SOCKET_PATH = "socket.io"
MAX_TOKEN = 512
MAX_SIGNAL = 32 * 1024  # an SDP with audio and video is a few KB
CALL_LIMIT = 4  # a mesh: every member sends to every other
WATCH_INTERVAL_S = 1.0  # how often a running group exam's progress is read (one query)
EVENT_BUDGET, EVENT_WINDOW_S = 100, 10.0  # a call's offers and ICE candidates fit easily
CHANNEL = "certplatform-study"  # Redis pub/sub channel shared by the processes


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JoinIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    certification: str | None = Field(default=None, max_length=64)


class RoomRef(_Event):
    room_id: str = Field(min_length=1, max_length=32)


class HistoryIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    before: str | None = Field(default=None, max_length=32)


class SayIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    body: str = Field(max_length=4000)


class EditIn(_Event):
    message_id: str = Field(min_length=1, max_length=32)
    body: str = Field(max_length=4000)


class MessageRef(_Event):
    message_id: str = Field(min_length=1, max_length=32)


class HideIn(_Event):
    message_id: str = Field(min_length=1, max_length=32)
    hidden: bool = True


class BanIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    user_id: str = Field(min_length=1, max_length=32)


class SignalIn(_Event):
    """A WebRTC offer, answer or ICE candidate for one peer of the room's call."""

    room_id: str = Field(min_length=1, max_length=32)
    to: str = Field(min_length=1, max_length=64)
    kind: Literal["offer", "answer", "candidate"]
    data: dict[str, str | int | None] = Field(max_length=8)

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, str | int | None]) -> dict[str, str | int | None]:
        if sum(len(str(v)) for v in value.values()) > MAX_SIGNAL:
            raise ValueError("signal too large")
        return value


class GroupStartIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    blueprint_id: str = Field(min_length=1, max_length=32)


class TimerIn(_Event):
    room_id: str = Field(min_length=1, max_length=32)
    running: bool
    focus_minutes: int | None = Field(default=None, ge=1, le=240)
    break_minutes: int | None = Field(default=None, ge=1, le=240)


def room_key(room_id: str) -> str:
    return f"room:{room_id}"


def wire_message(message: MessageOut) -> dict[str, Any]:
    """A message as clients get it: the body as safe HTML (raw HTML shown as text)."""
    return {
        "id": message.id,
        "room_id": message.room_id,
        "author_id": message.author_id,
        "author_name": message.author_name,
        "body": message.body,  # for the writer's edit box (set as a value, never as HTML)
        "html": str(render(message.body)) if message.body else "",
        "created_at": message.created_at.isoformat(),
        "edited": message.edited_at is not None,
        "deleted": message.deleted,
        "hidden": message.hidden,
    }


class Refused(AppError):
    status_code = 403
    code = "not_in_room"


class CallFull(AppError):
    status_code = 409
    code = "call_full"


EVENT_FLOOD = i18n.N_("Too many requests at once; wait a few seconds.")
CALL_FULL = i18n.N_("The call is full (4 people); you can still chat.")


class StudyNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Rooms, presence, chat and the shared timer; see the module docstring."""

    def __init__(self, state: State) -> None:
        super().__init__(NAMESPACE)
        self.state = state
        # room id → sid → (user id, display name, certification studied); this process only.
        self.presence: dict[str, dict[str, tuple[str, str, str | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # room id → sids in the room's call (WebRTC mesh, at most CALL_LIMIT); this process.
        self.calls: dict[str, set[str]] = {}
        # room id → the task that reports its running group exam's progress (this process).
        self.watches: dict[str, asyncio.Task[None]] = {}

    @property
    def db(self) -> Database:
        found: Database = self.state.db
        return found

    async def _principal(self, token: str, via: str) -> Principal | None:
        cache = self.state.principals
        principal: Principal | None = cache.get(token, via)
        if principal is None:
            async with self.db.transaction() as uow:
                principal = await identity.principal_for_token(uow, token, via)
            if principal is not None:
                cache.put(token, via, principal)
        return principal

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token, via = "", "bearer"
        if isinstance(auth, dict) and isinstance(auth.get("token"), str):
            token = auth["token"][:MAX_TOKEN]
        cookies = SimpleCookie()
        cookies.load(environ.get("HTTP_COOKIE", ""))
        if not token and SESSION_COOKIE in cookies:
            token, via = cookies[SESSION_COOKIE].value[:MAX_TOKEN], "cookie"
        principal = await self._principal(token, via) if token else None
        if principal is None or not allowed(self.state.enforcer, principal.role, "room", "use"):
            raise socketio.exceptions.ConnectionRefusedError("Sign in to join study rooms.")
        lang = cookies[LANG_COOKIE].value if LANG_COOKIE in cookies else None
        await self.save_session(
            sid, {"token": token, "via": via, "lang": i18n.pick(lang), "rooms": set()}
        )
        await self.enter_room(sid, f"user:{principal.user_id}")

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        for room_id in [r for r, members in self.presence.items() if sid in members]:
            await self._leave(sid, room_id)

    async def _call(
        self,
        sid: str,
        data: Any,
        model: type[_Event],
        action: Callable[[Principal, Any, dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """Run one event: who calls (a signed-out session is cut off), the payload's shape,
        then the action; errors become a translated reply."""
        session: dict[str, Any] = await self.get_session(sid)
        i18n.set_language(session["lang"])
        if not _within_budget(session):
            return _error("too_many_requests", i18n.gettext(EVENT_FLOOD))
        principal = await self._principal(session["token"], session["via"])
        if principal is None:
            self._cut_soon(sid, session)
            return _error("not_authenticated", i18n.gettext("Sign in to do this."))
        try:
            payload = model.model_validate(data if isinstance(data, dict) else {})
        except ValidationError:
            return _error("invalid", i18n.gettext("Please check your input"))
        try:
            return {"ok": True, **await action(principal, payload, session)}
        except AppError as exc:
            if exc.message == rooms.BANNED:
                self._cut_soon(sid, session)
            reply = _error(exc.code, i18n.gettext(exc.message))
            if isinstance(exc, TooManyRequests):
                reply["error"]["retry_after"] = exc.retry_after
            return reply

    def _cut_soon(self, sid: str, session: dict[str, Any]) -> None:
        """Disconnect once the reply has gone out, so the client learns why."""

        async def cut() -> None:
            for room_id in list(session["rooms"]):
                await self._leave(sid, room_id)
            await asyncio.sleep(0.2)
            await self.disconnect(sid)

        task = asyncio.get_running_loop().create_task(cut())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _in(self, session: dict[str, Any], room_id: str) -> None:
        if room_id not in session["rooms"]:
            raise Refused("Join the room first.")

    # --- rooms and presence -------------------------------------------------------------

    async def on_join(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: JoinIn, session: dict[str, Any]) -> dict[str, Any]:
            async with self.db.transaction() as uow:
                room = await rooms.enter(uow, p, x.room_id)
                messages = await rooms.history(uow, p, x.room_id)
            await self.enter_room(sid, room_key(x.room_id))
            session["rooms"].add(x.room_id)
            await self.save_session(sid, session)
            studying = x.certification or room.certification_code
            self.presence.setdefault(x.room_id, {})[sid] = (p.user_id, p.display_name, studying)
            await self._presence(x.room_id)
            self._watch(x.room_id)
            return {
                "room": room.model_dump(mode="json"),
                "history": [wire_message(m) for m in messages],
                "presence": self._people(x.room_id),
                "now": utcnow().isoformat(),
            }

        return await self._call(sid, data, JoinIn, act)

    async def on_leave(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(_: Principal, x: RoomRef, session: dict[str, Any]) -> dict[str, Any]:
            session["rooms"].discard(x.room_id)
            await self.save_session(sid, session)
            await self._leave(sid, x.room_id)
            return {}

        return await self._call(sid, data, RoomRef, act)

    async def _leave(self, sid: str, room_id: str) -> None:
        await self._hang_up(sid, room_id)
        await self.leave_room(sid, room_key(room_id))
        members = self.presence.get(room_id, {})
        if members.pop(sid, None) is not None:
            if not members:
                self.presence.pop(room_id, None)
            await self._presence(room_id)

    def _people(self, room_id: str) -> list[dict[str, Any]]:
        people: dict[str, dict[str, Any]] = {}
        for user_id, name, studying in self.presence.get(room_id, {}).values():
            people[user_id] = {"user_id": user_id, "name": name, "certification": studying}
        return sorted(people.values(), key=lambda person: str(person["name"]))

    async def _presence(self, room_id: str) -> None:
        await self.emit(
            "presence",
            {"room_id": room_id, "people": self._people(room_id)},
            room=room_key(room_id),
        )

    async def on_ban(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: BanIn, session: dict[str, Any]) -> dict[str, Any]:
            async with self.db.transaction() as uow:
                await rooms.ban(uow, p, x.room_id, x.user_id)
            # Cut the banned user's sockets here; elsewhere their next event finds the ban.
            for other, (user_id, _, _) in list(self.presence.get(x.room_id, {}).items()):
                if user_id == x.user_id:
                    await self.emit("banned", {"room_id": x.room_id}, to=other)
                    await self._leave(other, x.room_id)
                    await self.disconnect(other)
            return {}

        return await self._call(sid, data, BanIn, act)

    # --- chat ---------------------------------------------------------------------------

    async def on_history(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: HistoryIn, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            async with self.db.transaction() as uow:
                page = await rooms.history(uow, p, x.room_id, x.before)
            return {"messages": [wire_message(m) for m in page]}

        return await self._call(sid, data, HistoryIn, act)

    async def on_say(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: SayIn, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            body = _message_in(x.body)
            async with self.db.transaction() as uow:
                posted = await rooms.post_message(uow, self.state.room_limiter, p, x.room_id, body)
            wired = wire_message(posted)
            await self.emit("message", wired, room=room_key(x.room_id))
            return {"message": wired}

        return await self._call(sid, data, SayIn, act)

    async def _changed(self, session: dict[str, Any], message: MessageOut) -> dict[str, Any]:
        # The service checked the caller's standing in the message's room before writing.
        wired = wire_message(message)
        await self.emit("message_changed", wired, room=room_key(message.room_id))
        return {"message": wired}

    async def on_edit(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: EditIn, session: dict[str, Any]) -> dict[str, Any]:
            body = _message_in(x.body)
            async with self.db.transaction() as uow:
                saved = await rooms.edit_message(
                    uow, self.state.room_limiter, p, x.message_id, body
                )
            return await self._changed(session, saved)

        return await self._call(sid, data, EditIn, act)

    async def on_delete(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: MessageRef, session: dict[str, Any]) -> dict[str, Any]:
            async with self.db.transaction() as uow:
                gone = await rooms.delete_message(uow, p, x.message_id)
            return await self._changed(session, gone)

        return await self._call(sid, data, MessageRef, act)

    async def on_hide(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: HideIn, session: dict[str, Any]) -> dict[str, Any]:
            async with self.db.transaction() as uow:
                hidden = await rooms.hide_message(uow, p, x.message_id, x.hidden)
            return await self._changed(session, hidden)

        return await self._call(sid, data, HideIn, act)

    # --- calls: WebRTC mesh signalling ----------------------------------------------------

    async def on_call_join(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Enter the room's call; the reply lists the peers this socket must offer to."""

        async def act(p: Principal, x: RoomRef, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            call = self.calls.setdefault(x.room_id, set())
            if sid not in call and len(call) >= CALL_LIMIT:
                raise CallFull(CALL_FULL)
            peers = sorted(call - {sid})
            call.add(sid)
            members = self.presence.get(x.room_id, {})
            return {
                "peers": [{"sid": s, "name": members.get(s, ("", "?", None))[1]} for s in peers]
            }

        return await self._call(sid, data, RoomRef, act)

    async def on_call_leave(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(_: Principal, x: RoomRef, session: dict[str, Any]) -> dict[str, Any]:
            await self._hang_up(sid, x.room_id)
            return {}

        return await self._call(sid, data, RoomRef, act)

    async def _hang_up(self, sid: str, room_id: str) -> None:
        call = self.calls.get(room_id)
        if call is None or sid not in call:
            return
        call.discard(sid)
        if not call:
            self.calls.pop(room_id, None)
        for other in call:
            await self.emit("call_left", {"room_id": room_id, "sid": sid}, to=other)

    async def on_signal(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Pass an offer, answer or candidate to one peer: both must be in this room's call."""

        async def act(_: Principal, x: SignalIn, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            call = self.calls.get(x.room_id, set())
            if sid not in call or x.to not in call or x.to == sid:
                raise Refused("Join the call first.")
            name = self.presence.get(x.room_id, {}).get(sid, ("", "?", None))[1]
            await self.emit(
                "signal",
                {"room_id": x.room_id, "from": sid, "name": name, "kind": x.kind, "data": x.data},
                to=x.to,
            )
            return {}

        return await self._call(sid, data, SignalIn, act)

    # --- group mock exams (ADR 0030) -------------------------------------------------------

    async def on_group_start(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The owner starts a group exam for the people present in the room (here)."""

        async def act(p: Principal, x: GroupStartIn, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            present = [user_id for user_id, _, _ in self.presence.get(x.room_id, {}).values()]
            async with self.db.transaction() as uow:
                started = await group_exam.start(uow, p, x.room_id, x.blueprint_id, present)
            # Everyone in the room learns that it started; each asks for their own seat.
            public = started.model_copy(update={"my_attempt_id": None}).model_dump(mode="json")
            await self.emit("group_exam", public, room=room_key(x.room_id))
            self._watch(x.room_id)
            return {"exam": started.model_dump(mode="json")}

        return await self._call(sid, data, GroupStartIn, act)

    async def on_group_state(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The room's running (else last) group exam with the caller's own attempt, and the
        debrief once it finished (for those who sat it)."""

        async def act(p: Principal, x: RoomRef, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            async with self.db.transaction() as uow:
                exam = await group_exam.latest(uow, p, x.room_id)
                debrief = None
                if exam is not None and exam.state == "finished" and exam.my_attempt_id:
                    debrief = await group_exam.debrief(uow, p, exam.id)
            return {
                "exam": exam.model_dump(mode="json") if exam else None,
                "debrief": debrief.model_dump(mode="json") if debrief else None,
            }

        return await self._call(sid, data, RoomRef, act)

    def _watch(self, room_id: str) -> None:
        """Report the room's running group exam while someone here is in the room: progress
        counts when they change, then `group_finished` once it finished (anywhere)."""
        if room_id in self.watches:
            return
        task = asyncio.get_running_loop().create_task(self._watching(room_id))
        self.watches[room_id] = task
        task.add_done_callback(lambda _: self.watches.pop(room_id, None))

    async def _watching(self, room_id: str) -> None:
        last: list[dict[str, Any]] | None = None
        exam_id: str | None = None
        while self.presence.get(room_id):
            try:
                async with self.db.transaction() as uow:
                    running = await group_exam.running_id(uow, room_id)
                    if exam_id is not None and running != exam_id:
                        await self.emit(
                            "group_finished",
                            {"room_id": room_id, "group_exam_id": exam_id},
                            room=room_key(room_id),
                        )
                        return
                    if running is None:
                        return
                    exam_id = running
                    people = [
                        p.model_dump(mode="json") for p in await group_exam.progress(uow, running)
                    ]
                if people != last:
                    last = people
                    await self.emit(
                        "group_progress",
                        {"room_id": room_id, "group_exam_id": running, "people": people},
                        room=room_key(room_id),
                    )
                if all(p["submitted"] for p in people):
                    async with self.db.transaction() as uow:
                        await group_exam.finish_if_done(uow, running)
                    continue  # the next turn sees it finished and says so
            except Exception:  # a lost database must not end the watch silently
                log.exception("group_exam.watch_failed", room_id=room_id)
            await asyncio.sleep(WATCH_INTERVAL_S)

    # --- the shared Pomodoro --------------------------------------------------------------

    async def on_timer(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(p: Principal, x: TimerIn, session: dict[str, Any]) -> dict[str, Any]:
            self._in(session, x.room_id)
            async with self.db.transaction() as uow:
                timer = await rooms.set_timer(
                    uow,
                    p,
                    x.room_id,
                    running=x.running,
                    focus_seconds=x.focus_minutes * 60 if x.focus_minutes else None,
                    break_seconds=x.break_minutes * 60 if x.break_minutes else None,
                )
            wired = {
                "room_id": x.room_id,
                "timer": timer.model_dump(mode="json"),
                "now": utcnow().isoformat(),
            }
            await self.emit("timer", wired, room=room_key(x.room_id))
            return wired

        return await self._call(sid, data, TimerIn, act)


def _message_in(body: str) -> MessageIn:
    try:
        return MessageIn(body=body)
    except ValidationError as exc:
        raise Invalid(MESSAGE_BOUNDS) from exc


def _within_budget(session: dict[str, Any]) -> bool:
    """At most EVENT_BUDGET events per socket in a fixed window: a flood of events (each may
    query the database) is answered without work. The chat has its own, stricter limit."""
    now = time.monotonic()
    window = session.setdefault("window", [now, 0])
    if now - window[0] >= EVENT_WINDOW_S:
        window[0], window[1] = now, 0
    window[1] += 1
    return bool(window[1] <= EVENT_BUDGET)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


MESSAGE_BOUNDS = i18n.N_("Write a message of 1 to 2,000 characters.")


def build_server(state: State, redis_url: str | None) -> socketio.AsyncServer:
    """The Socket.IO server; with Redis, processes share rooms (a message sent in one
    reaches sockets held by another)."""
    manager = socketio.AsyncRedisManager(redis_url, channel=CHANNEL) if redis_url else None
    server = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=None,  # same origin only: the cookie must not work cross-site
        max_http_buffer_size=64 * 1024,
        ping_interval=25,
        ping_timeout=20,
    )
    server.register_namespace(StudyNamespace(state))
    return server


class SocketRoute:
    """Sends /socket.io/ to the Socket.IO server, everything else to the app. Outermost:
    long polls and websockets hold no admission slot and skip the page middleware."""

    def __init__(self, app: ASGIApp, server: socketio.AsyncServer) -> None:
        self.app = app
        self.socket_app = socketio.ASGIApp(server, socketio_path=SOCKET_PATH)
        self.prefix = f"/{SOCKET_PATH}/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(self.prefix):
            await self.socket_app(scope, receive, send)
            return
        await self.app(scope, receive, send)
