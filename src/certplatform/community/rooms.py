"""Study rooms (ADR 0024): who may enter a room, its chat, bans and the shared timer.

Every decision is made here against the database, so the socket edge and the pages agree.
A room is entered only by a signed-in member who is not banned (admins may enter any room
to moderate). Public rooms add whoever enters as a member; invite rooms only those who hold
the invite code; private rooms only those the owner added. A room that the caller may not
enter answers "No such room." (its existence is not revealed). Nothing commits here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.community import events
from certplatform.community.contracts import (
    HISTORY_PAGE,
    MessageIn,
    MessageOut,
    RoomIn,
    RoomOut,
    TimerOut,
    Visibility,
)
from certplatform.community.models import RoomMember, RoomMessage, StudyRoom
from certplatform.content import service as content
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from certplatform.kernel.events import record_event
from certplatform.kernel.ratelimit import as_storage

NO_ROOM = "No such room."
NO_MESSAGE = "No such message."
BANNED = "You were removed from this room."
OWNER_ONLY = "Only the room's owner and admins can do this."
OWN_ONLY = "You can change only your own messages."
CHAT_LIMIT_MESSAGE = "You are sending messages too fast; wait a moment and try again."
UNKNOWN_CERTIFICATION = "Choose a certification from the list."
LIST_LIMIT = 100
MIN_PHASE, MAX_PHASE = 60, 4 * 3600


class RoomLimiter:
    """Moving-window limit per user on chat messages (new and edited)."""

    def __init__(self, per_user: str, storage_url: Storage | str = "async+memory://") -> None:
        self._limiter = MovingWindowRateLimiter(as_storage(storage_url))
        self._item = parse(per_user)

    async def hit(self, user_id: str) -> None:
        if not await self._limiter.hit(self._item, "room-chat", user_id):
            stats = await self._limiter.get_window_stats(self._item, "room-chat", user_id)
            retry = max(1, int(stats.reset_time - utcnow().timestamp()) + 1)
            raise TooManyRequests(CHAT_LIMIT_MESSAGE, retry_after=retry)

    async def reset(self) -> None:
        await self._limiter.storage.reset()


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def is_admin(principal: Principal) -> bool:
    return principal.role == "admin"


def _may_moderate(room: StudyRoom, principal: Principal) -> bool:
    return room.owner_id == principal.user_id or is_admin(principal)


def _timer(room: StudyRoom) -> TimerOut:
    return TimerOut(
        started_at=room.timer_started_at,
        focus_seconds=room.focus_seconds,
        break_seconds=room.break_seconds,
    )


async def _out(uow: UnitOfWork, room: StudyRoom, principal: Principal) -> RoomOut:
    names = await identity.display_names(uow, [room.owner_id])
    moderator = _may_moderate(room, principal)
    return RoomOut(
        id=room.id,
        name=room.name,
        visibility=Visibility(room.visibility),
        owner_id=room.owner_id,
        owner_name=names.get(room.owner_id, "?"),
        certification_code=room.certification_code,
        created_at=room.created_at,
        invite_code=room.invite_code if moderator and room.visibility == "invite" else None,
        can_moderate=moderator,
        timer=_timer(room),
    )


async def _membership(session: AsyncSession, room_id: str, user_id: str) -> RoomMember | None:
    return await session.get(RoomMember, (room_id, user_id), populate_existing=True)


async def _add_member(session: AsyncSession, room_id: str, user_id: str) -> None:
    """Insert the membership unless a row exists (a banned row stays banned)."""
    statement = (
        _insert(session)(RoomMember)
        .values(room_id=room_id, user_id=user_id, joined_at=utcnow(), banned_at=None)
        .on_conflict_do_nothing(index_elements=["room_id", "user_id"])
    )
    await session.execute(statement)


async def create_room(uow: UnitOfWork, principal: Principal, body: RoomIn) -> RoomOut:
    if body.certification_code is not None:
        codes = {c.code for c in await content.list_certifications(uow)}
        if body.certification_code not in codes:
            raise Invalid(UNKNOWN_CERTIFICATION)
    room = StudyRoom(
        id=new_id(),
        owner_id=principal.user_id,
        name=body.name,
        visibility=body.visibility.value,
        invite_code=secrets.token_urlsafe(16),
        certification_code=body.certification_code,
        created_at=utcnow(),
        focus_seconds=25 * 60,
        break_seconds=5 * 60,
    )
    uow.session.add(room)
    await uow.session.flush()
    await _add_member(uow.session, room.id, principal.user_id)
    record_event(uow.session, events.ROOM_CREATED, {"room_id": room.id, "actor": principal.user_id})
    return await _out(uow, room, principal)


async def list_rooms(uow: UnitOfWork, principal: Principal) -> list[RoomOut]:
    """Public rooms and the caller's own rooms (not those they were banned from), newest
    first."""
    mine = select(RoomMember.room_id).where(
        RoomMember.user_id == principal.user_id, RoomMember.banned_at.is_(None)
    )
    banned = select(RoomMember.room_id).where(
        RoomMember.user_id == principal.user_id, RoomMember.banned_at.is_not(None)
    )
    query = (
        select(StudyRoom)
        .where(
            or_(StudyRoom.visibility == Visibility.PUBLIC.value, StudyRoom.id.in_(mine)),
            StudyRoom.id.not_in(banned),
        )
        .order_by(StudyRoom.created_at.desc(), StudyRoom.id)
        .limit(LIST_LIMIT)
    )
    rooms = (await uow.session.scalars(query)).all()
    names = await identity.display_names(uow, [r.owner_id for r in rooms])
    outs = []
    for room in rooms:
        out = await _out(uow, room, principal)
        outs.append(out.model_copy(update={"owner_name": names.get(room.owner_id, "?")}))
    return outs


async def enter(
    uow: UnitOfWork, principal: Principal, room_id: str, invite_code: str | None = None
) -> RoomOut:
    """Enter the room (becoming a member where the room allows it) or raise: NotFound for a
    room the caller may not see, Forbidden for a banned member."""
    room = await uow.session.get(StudyRoom, room_id)
    if room is None:
        raise NotFound(NO_ROOM)
    member = await _membership(uow.session, room_id, principal.user_id)
    if member is not None and member.banned_at is not None and not is_admin(principal):
        raise Forbidden(BANNED)
    if member is None and not is_admin(principal):
        invited = (
            room.visibility == Visibility.INVITE.value
            and invite_code is not None
            and secrets.compare_digest(invite_code, room.invite_code)
        )
        if room.visibility != Visibility.PUBLIC.value and not invited:
            raise NotFound(NO_ROOM)
        await _add_member(uow.session, room_id, principal.user_id)
        member = await _membership(uow.session, room_id, principal.user_id)
        if member is not None and member.banned_at is not None:  # banned meanwhile
            raise Forbidden(BANNED)
    return await _out(uow, room, principal)


async def room_by_invite(uow: UnitOfWork, principal: Principal, code: str) -> RoomOut:
    room = (
        await uow.session.scalars(select(StudyRoom).where(StudyRoom.invite_code == code))
    ).one_or_none()
    if room is None or room.visibility != Visibility.INVITE.value:
        raise NotFound(NO_ROOM)
    return await enter(uow, principal, room.id, code)


async def check_present(uow: UnitOfWork, principal: Principal, room_id: str) -> StudyRoom:
    """The room, if the caller is still a member in good standing (every chat action asks:
    a ban takes effect on the next event even where the socket was not cut)."""
    room = await uow.session.get(StudyRoom, room_id)
    if room is None:
        raise NotFound(NO_ROOM)
    if is_admin(principal):
        return room
    member = await _membership(uow.session, room_id, principal.user_id)
    if member is None:
        raise NotFound(NO_ROOM)
    if member.banned_at is not None:
        raise Forbidden(BANNED)
    return room


async def add_member(uow: UnitOfWork, principal: Principal, room_id: str, email: str) -> str:
    """The owner adds an account by email (how private rooms get members); the user id."""
    room = await check_present(uow, principal, room_id)
    if not _may_moderate(room, principal):
        raise Forbidden(OWNER_ONLY)
    user = await identity.find_user(uow, email)
    if user is None:
        raise NotFound("No account has this email address.")
    await _add_member(uow.session, room_id, user.id)
    return user.id


async def ban(uow: UnitOfWork, principal: Principal, room_id: str, user_id: str) -> None:
    """Ban a member for good (the row stays, so no invite brings them back)."""
    room = await check_present(uow, principal, room_id)
    if not _may_moderate(room, principal):
        raise Forbidden(OWNER_ONLY)
    if user_id == room.owner_id:
        raise Conflict("The owner cannot be removed from their room.")
    now = utcnow()
    statement = (
        _insert(uow.session)(RoomMember)
        .values(
            room_id=room_id,
            user_id=user_id,
            joined_at=now,
            banned_at=now,
            banned_by=principal.user_id,
        )
        .on_conflict_do_update(
            index_elements=["room_id", "user_id"],
            set_={"banned_at": now, "banned_by": principal.user_id},
        )
    )
    await uow.session.execute(statement)
    record_event(
        uow.session,
        events.ROOM_MEMBER_BANNED,
        {"room_id": room_id, "user_id": user_id, "actor": principal.user_id},
    )


async def _messages(uow: UnitOfWork, rows: Sequence[RoomMessage]) -> list[MessageOut]:
    names = await identity.display_names(uow, [r.author_id for r in rows])
    outs = []
    for row in rows:
        deleted, hidden = row.deleted_at is not None, row.hidden_at is not None
        outs.append(
            MessageOut(
                id=row.id,
                room_id=row.room_id,
                author_id=row.author_id,
                author_name=names.get(row.author_id, "?"),
                body="" if deleted or hidden else row.body,
                created_at=row.created_at,
                edited_at=row.edited_at,
                deleted=deleted,
                hidden=hidden,
            )
        )
    return outs


async def history(
    uow: UnitOfWork,
    principal: Principal,
    room_id: str,
    before: str | None = None,
    limit: int = HISTORY_PAGE,
) -> list[MessageOut]:
    """A page of messages, oldest first, ending just before message `before` (or now)."""
    await check_present(uow, principal, room_id)
    query = select(RoomMessage).where(RoomMessage.room_id == room_id)
    if before is not None:
        anchor = await uow.session.get(RoomMessage, before)
        if anchor is None or anchor.room_id != room_id:
            raise NotFound(NO_MESSAGE)
        query = query.where(
            or_(
                RoomMessage.created_at < anchor.created_at,
                and_(RoomMessage.created_at == anchor.created_at, RoomMessage.id < anchor.id),
            )
        )
    query = query.order_by(RoomMessage.created_at.desc(), RoomMessage.id.desc()).limit(
        max(1, min(limit, HISTORY_PAGE))
    )
    rows = list(reversed((await uow.session.scalars(query)).all()))
    return await _messages(uow, rows)


async def post_message(
    uow: UnitOfWork, limiter: RoomLimiter, principal: Principal, room_id: str, body: MessageIn
) -> MessageOut:
    await check_present(uow, principal, room_id)
    await limiter.hit(principal.user_id)
    row = RoomMessage(
        id=new_id(),
        room_id=room_id,
        author_id=principal.user_id,
        body=body.body,
        created_at=utcnow(),
    )
    uow.session.add(row)
    await uow.session.flush()
    return (await _messages(uow, [row]))[0]


async def _message(uow: UnitOfWork, principal: Principal, message_id: str) -> RoomMessage:
    row = (
        await uow.session.scalars(
            select(RoomMessage).where(RoomMessage.id == message_id).with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise NotFound(NO_MESSAGE)
    await check_present(uow, principal, row.room_id)
    return row


async def edit_message(
    uow: UnitOfWork, limiter: RoomLimiter, principal: Principal, message_id: str, body: MessageIn
) -> MessageOut:
    row = await _message(uow, principal, message_id)
    if row.author_id != principal.user_id:
        raise Forbidden(OWN_ONLY)
    if row.deleted_at is not None or row.hidden_at is not None:
        raise Conflict("This message can no longer be edited.")
    await limiter.hit(principal.user_id)
    row.body, row.edited_at = body.body, utcnow()
    await uow.session.flush()
    return (await _messages(uow, [row]))[0]


async def delete_message(uow: UnitOfWork, principal: Principal, message_id: str) -> MessageOut:
    row = await _message(uow, principal, message_id)
    if row.author_id != principal.user_id:
        raise Forbidden(OWN_ONLY)
    if row.deleted_at is None:
        row.deleted_at, row.body = utcnow(), ""
        await uow.session.flush()
    return (await _messages(uow, [row]))[0]


async def hide_message(
    uow: UnitOfWork, principal: Principal, message_id: str, hidden: bool = True
) -> MessageOut:
    row = await _message(uow, principal, message_id)
    room = await uow.session.get(StudyRoom, row.room_id)
    if room is None or not _may_moderate(room, principal):
        raise Forbidden(OWNER_ONLY)
    row.hidden_at = utcnow() if hidden else None
    row.hidden_by = principal.user_id if hidden else None
    await uow.session.flush()
    record_event(
        uow.session,
        events.ROOM_MESSAGE_HIDDEN,
        {
            "room_id": row.room_id,
            "message_id": row.id,
            "hidden": hidden,
            "actor": principal.user_id,
        },
    )
    return (await _messages(uow, [row]))[0]


async def set_timer(
    uow: UnitOfWork,
    principal: Principal,
    room_id: str,
    *,
    running: bool,
    focus_seconds: int | None = None,
    break_seconds: int | None = None,
) -> TimerOut:
    """Start (from now) or stop the room's Pomodoro; owner and admins only."""
    room = await check_present(uow, principal, room_id)
    if not _may_moderate(room, principal):
        raise Forbidden(OWNER_ONLY)
    values: dict[str, object] = {"timer_started_at": utcnow() if running else None}
    for name, value in (("focus_seconds", focus_seconds), ("break_seconds", break_seconds)):
        if value is not None:
            if not MIN_PHASE <= value <= MAX_PHASE:
                raise Invalid("A phase lasts from 1 minute to 4 hours.")
            values[name] = value
    await uow.session.execute(update(StudyRoom).where(StudyRoom.id == room_id).values(**values))
    await uow.session.refresh(room)
    return _timer(room)


def phase_at(timer: TimerOut, now: datetime) -> tuple[str, float]:
    """("focus" | "break" | "stopped", seconds left in the phase) at `now`."""
    if timer.started_at is None:
        return "stopped", 0.0
    cycle = timer.focus_seconds + timer.break_seconds
    into = (now - timer.started_at).total_seconds() % cycle
    if into < timer.focus_seconds:
        return "focus", timer.focus_seconds - into
    return "break", cycle - into
