"""Per-question discussion pages, error reports (이의 신고) from learners, and notices."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from certplatform.community import service
from certplatform.community.contracts import (
    AbuseReportIn,
    CommentIn,
    ErrorReason,
    ErrorReportIn,
)
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Invalid
from certplatform.web import i18n
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, form, redirect

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal | None, Depends(Requirement("discussion", "read"))]
Writer = Annotated[Principal | None, Depends(Requirement("discussion", "write"))]
Moderator = Annotated[Principal | None, Depends(Requirement("discussion", "moderate"))]
Reporter = Annotated[Principal | None, Depends(Requirement("error_report", "create"))]
SelfWriter = Annotated[Principal | None, Depends(Requirement("self", "update"))]

Model = TypeVar("Model", bound=BaseModel)
N_ = i18n.N_
COMMENT_BOUNDS = N_("Write a comment of 1 to 5,000 characters.")
NOTE_BOUNDS = N_("Choose a reason; the note is at most 1,000 characters.")
ABUSE_BOUNDS = N_("The reason is at most 500 characters.")
REASONS = {
    ErrorReason.WRONG_KEY: N_("The key (correct answer) is wrong"),
    ErrorReason.OUTDATED_LAW: N_("The law it cites has changed"),
    ErrorReason.TYPO: N_("Typo or wrong figure"),
    ErrorReason.UNCLEAR: N_("The question is unclear"),
}
DONE = {
    "posted": N_("Your comment is posted."),
    "edited": N_("Your comment is saved."),
    "deleted": N_("Your comment is deleted."),
    "reported": N_("Thank you; the moderators will look at this comment."),
    "filed": N_("Thank you; the authors will review your report."),
}


def _limiter(request: Request) -> service.CommunityLimiter:
    found: service.CommunityLimiter = request.app.state.community_limiter
    return found


def _thread_url(question_id: str, done: str = "", anchor: str = "") -> RedirectResponse:
    query = f"?done={done}" if done in DONE else ""
    return redirect(f"/questions/{question_id}/discussion{query}{'#' + anchor if anchor else ''}")


def _checked(make: type[Model], message: str, **fields: str) -> Model:
    try:
        return make.model_validate(fields)
    except ValidationError as exc:
        raise Invalid(message) from exc


@router.get("/questions/{question_id}/discussion", response_class=HTMLResponse)
async def discussion(
    request: Request, question_id: str, uow: UoW, principal: Reader, done: str = ""
) -> HTMLResponse:
    """The question's discussion: comments, votes, the accepted answer, and the error
    report form. Closed while the question is part of the reader's open attempt."""
    user = signed_in(principal)
    thread = await service.thread(uow, user, question_id)
    return page(
        request,
        "community/discussion.html",
        {
            "thread": thread,
            "reasons": REASONS,
            "done": i18n.gettext(DONE[done]) if done in DONE else None,
            "accepted": [c for c in thread.comments if c.accepted],
        },
    )


@router.post("/questions/{question_id}/discussion", response_model=None)
async def post_comment(
    request: Request, question_id: str, uow: UoW, principal: Writer
) -> RedirectResponse:
    data = await form(request)
    body = _checked(CommentIn, i18n.gettext(COMMENT_BOUNDS), body=data.get("body", ""))
    posted = await service.post_comment(
        uow, _limiter(request), signed_in(principal), question_id, body
    )
    return _thread_url(question_id, "posted", f"c-{posted.id}")


@router.post("/comments/{comment_id}/edit", response_model=None)
async def edit_comment(
    request: Request, comment_id: str, uow: UoW, principal: Writer
) -> RedirectResponse:
    data = await form(request)
    body = _checked(CommentIn, i18n.gettext(COMMENT_BOUNDS), body=data.get("body", ""))
    saved = await service.edit_comment(
        uow, _limiter(request), signed_in(principal), comment_id, body
    )
    return _thread_url(saved.question_id, "edited", f"c-{saved.id}")


@router.post("/comments/{comment_id}/delete", response_model=None)
async def delete_comment(comment_id: str, uow: UoW, principal: Writer) -> RedirectResponse:
    question_id = await service.delete_comment(uow, signed_in(principal), comment_id)
    return _thread_url(question_id, "deleted", f"c-{comment_id}")


@router.post("/comments/{comment_id}/vote", response_model=None)
async def vote(request: Request, comment_id: str, uow: UoW, principal: Writer) -> RedirectResponse:
    value = {"1": 1, "-1": -1, "0": 0}.get((await form(request)).get("value", ""))
    if value is None:
        raise Invalid(i18n.gettext(N_("Choose a vote.")))
    voted = await service.vote(uow, signed_in(principal), comment_id, value)
    return _thread_url(voted.question_id, anchor=f"c-{comment_id}")


@router.post("/comments/{comment_id}/report", response_model=None)
async def report_abuse(
    request: Request, comment_id: str, uow: UoW, principal: Writer
) -> RedirectResponse:
    data = await form(request)
    report = _checked(AbuseReportIn, i18n.gettext(ABUSE_BOUNDS), reason=data.get("reason", ""))
    question_id = await service.report_abuse(
        uow, _limiter(request), signed_in(principal), comment_id, report
    )
    return _thread_url(question_id, "reported", f"c-{comment_id}")


@router.post("/comments/{comment_id}/accept", response_model=None)
async def accept(
    request: Request, comment_id: str, uow: UoW, principal: Moderator
) -> RedirectResponse:
    on = (await form(request)).get("accepted", "1") == "1"
    done = await service.accept(uow, signed_in(principal), comment_id, accepted=on)
    return _thread_url(done.question_id, anchor=f"c-{comment_id}")


@router.post("/comments/{comment_id}/hide", response_model=None)
async def moderate(
    request: Request, comment_id: str, uow: UoW, principal: Moderator
) -> RedirectResponse:
    hidden = (await form(request)).get("hidden", "1") == "1"
    done = await service.moderate(uow, signed_in(principal), comment_id, hidden=hidden)
    return _thread_url(done.question_id, anchor=f"c-{comment_id}")


@router.post("/questions/{question_id}/error-report", response_model=None)
async def file_error_report(
    request: Request, question_id: str, uow: UoW, principal: Reporter
) -> RedirectResponse:
    data = await form(request)
    report = _checked(
        ErrorReportIn,
        i18n.gettext(NOTE_BOUNDS),
        reason=data.get("reason", ""),
        note=data.get("note", ""),
    )
    await service.file_error_report(
        uow, _limiter(request), signed_in(principal), question_id, report
    )
    return _thread_url(question_id, "filed", "report-h")


@router.post("/notices/{notice_id}/dismiss", response_model=None)
async def dismiss_notice(notice_id: str, uow: UoW, principal: SelfWriter) -> RedirectResponse:
    await service.dismiss_notice(uow, signed_in(principal), notice_id)
    return redirect("/")
