"""Study room pages (ADR 0024): the room list with the create form, invite links and the
room itself, whose chat, presence and timer run over Socket.IO (static/js/rooms.js)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.requests import Request

from certplatform.community import group_exam, ice, rooms
from certplatform.community.contracts import RoomIn, RoomOut, Visibility
from certplatform.content import service as content
from certplatform.content.contracts import BlueprintOut
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Invalid, NotFound
from certplatform.kernel.settings import Settings
from certplatform.web import i18n
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, form, redirect
from certplatform.web.views.practice import excerpt

router = APIRouter(include_in_schema=False)
Member = Annotated[Principal | None, Depends(Requirement("room", "use"))]

N_ = i18n.N_
ROOM_BOUNDS = N_("Name the room in 1 to 80 characters.")
VISIBILITIES = {
    Visibility.PUBLIC: N_("Public: listed here, anyone signed in may join"),
    Visibility.INVITE: N_("Invite link: only people with the link may join"),
    Visibility.PRIVATE: N_("Private: only members you add may join"),
}
KINDS = {
    Visibility.PUBLIC: N_("Public"),
    Visibility.INVITE: N_("Invite link"),
    Visibility.PRIVATE: N_("Private"),
}
DONE = {"added": N_("The member is added.")}
# Messages of rooms.py and socket.py that reach people (translated where they are shown).
ROOM_MESSAGES = (
    N_("No such room."),
    N_("No such message."),
    N_("You were removed from this room."),
    N_("Only the room's owner and admins can do this."),
    N_("You can change only your own messages."),
    N_("You are sending messages too fast; wait a moment and try again."),
    N_("Choose a certification from the list."),
    N_("No account has this email address."),
    N_("The owner cannot be removed from their room."),
    N_("This message can no longer be edited."),
    N_("A phase lasts from 1 minute to 4 hours."),
    N_("Join the room first."),
    N_("Write a message of 1 to 2,000 characters."),
    N_("Sign in to join study rooms."),
    N_("Join the call first."),
    N_("Too many requests at once; wait a few seconds."),
    N_("The call is full (4 people); you can still chat."),
    N_("Only the room's owner can start a group exam."),
    N_("A group exam is already running in this room."),
    N_("No such group exam."),
    N_("This room studies another certification; choose one of its exams."),
    N_("The group exam is still running; its debrief comes when everyone has submitted."),
    N_("The members' forms differ; start the group exam again."),
)


def _strings() -> dict[str, str]:
    """What the room's script shows, translated here (the script has no catalog)."""
    _ = i18n.gettext
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected."),
        "disconnected": _("Connection lost; trying again…"),
        "refused": _("Sign in to join study rooms."),
        "banned": _("You were removed from this room."),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "hide": _("Hide"),
        "unhide": _("Show again"),
        "save": _("Save"),
        "send": _("Send"),
        "edited": _("edited"),
        "deleted": _("Deleted message"),
        "hidden": _("A moderator hid this message."),
        "remove": _("Remove from room"),
        "remove_confirm": _("Remove this person from the room for good?"),
        "focus": _("Focus"),
        "break": _("Break"),
        "stopped": _("The timer is stopped."),
        "phase_focus": _("Focus time started."),
        "phase_break": _("Break time started."),
        "no_more": _("No earlier messages."),
        "you": _("(you)"),
        "studying": _("studying %(code)s"),
        "me_video": _("You"),
        "no_media": _("The camera and microphone could not be opened."),
        "call_joined": _("You joined the call."),
        "group_none": _("No group exam is running."),
        "group_running": _("%(form)s is running for %(count)s people; it ends at %(time)s."),
        "group_late": _("This exam started before you came in; you can follow it here."),
        "group_finished": _("The group exam has finished."),
        "group_waiting": _("Time is up; the debrief comes when every answer sheet is graded."),
        "group_progress": _("Question %(answered)s/%(total)s"),
        "group_submitted": _("submitted"),
    }


async def _blueprints(uow: UoW, room: RoomOut) -> list[BlueprintOut]:
    """The exams a group may sit here: the room's certification's, else every one's."""
    codes = (
        [room.certification_code]
        if room.certification_code
        else [c.code for c in await content.list_certifications(uow)]
    )
    found: list[BlueprintOut] = []
    for code in codes:
        found += await content.blueprints(uow, code)
    return found


@router.get("/rooms", response_class=HTMLResponse)
async def room_list(request: Request, uow: UoW, principal: Member) -> HTMLResponse:
    """Public rooms and the caller's own rooms, and a form to open a new one."""
    user = signed_in(principal)
    return page(
        request,
        "rooms/list.html",
        {
            "rooms": await rooms.list_rooms(uow, user),
            "certifications": await content.list_certifications(uow),
            "visibilities": VISIBILITIES,
            "kinds": KINDS,
        },
    )


@router.post("/rooms", response_model=None)
async def create_room(request: Request, uow: UoW, principal: Member) -> RedirectResponse:
    data = await form(request)
    fields: dict[str, Any] = {
        "name": data.get("name", ""),
        "visibility": data.get("visibility", Visibility.PUBLIC.value),
        "certification_code": data.get("certification_code") or None,
    }
    try:
        body = RoomIn.model_validate(fields)
    except ValidationError as exc:
        raise Invalid(i18n.gettext(ROOM_BOUNDS)) from exc
    room = await rooms.create_room(uow, signed_in(principal), body)
    return redirect(f"/rooms/{room.id}")


@router.get("/rooms/invite/{code}", response_model=None)
async def invite(code: str, uow: UoW, principal: Member) -> RedirectResponse:
    """Following an invite link makes the caller a member, then opens the room."""
    room = await rooms.room_by_invite(uow, signed_in(principal), code[:64])
    return redirect(f"/rooms/{room.id}")


@router.get("/rooms/{room_id}", response_class=HTMLResponse)
async def room_page(
    request: Request, room_id: str, uow: UoW, principal: Member, done: str = ""
) -> HTMLResponse:
    user = signed_in(principal)
    room = await rooms.enter(uow, user, room_id[:32])
    owner = room.owner_id == user.user_id
    settings: Settings = request.app.state.settings
    return page(
        request,
        "rooms/room.html",
        {
            "room": room,
            "kinds": KINDS,
            "strings": _strings(),
            "is_owner": owner,
            "blueprints": await _blueprints(uow, room) if owner else [],
            "ice_servers": ice.servers_for(settings, user.user_id),
            "done": i18n.gettext(DONE[done]) if done in DONE else None,
            "invite_url": f"{request.base_url}rooms/invite/{room.invite_code}"
            if room.invite_code
            else None,
        },
    )


@router.post("/rooms/{room_id}/members", response_model=None)
async def add_member(
    request: Request, room_id: str, uow: UoW, principal: Member
) -> RedirectResponse:
    data = await form(request)
    await rooms.add_member(uow, signed_in(principal), room_id[:32], data.get("email", "")[:320])
    return redirect(f"/rooms/{room_id[:32]}?done=added")


@router.get("/rooms/{room_id}/group-exams/{exam_id}", response_class=HTMLResponse)
async def group_debrief(
    request: Request, room_id: str, exam_id: str, uow: UoW, principal: Member
) -> HTMLResponse:
    """A finished group exam: my score, the most missed, and the group's rate per
    question (only for those who sat it)."""
    user = signed_in(principal)
    debrief = await group_exam.debrief(uow, user, exam_id[:32])
    if debrief.room_id != room_id[:32]:
        raise NotFound(group_exam.NO_GROUP_EXAM)
    room = await rooms.enter(uow, user, debrief.room_id)
    return page(
        request,
        "rooms/group_debrief.html",
        {"room": room, "debrief": debrief, "excerpt": excerpt},
    )
