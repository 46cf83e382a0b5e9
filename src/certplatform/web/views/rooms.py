"""Study room pages (ADR 0024): the room list with the create form, invite links and the
room itself, whose chat, presence and timer run over Socket.IO (static/js/rooms.js)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.requests import Request

from certplatform.community import rooms
from certplatform.community.contracts import RoomIn, Visibility
from certplatform.content import service as content
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Invalid
from certplatform.web import i18n
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, form, redirect

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
    }


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
    return page(
        request,
        "rooms/room.html",
        {
            "room": room,
            "kinds": KINDS,
            "strings": _strings(),
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
