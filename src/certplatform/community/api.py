"""Community REST routes: discussion threads, comments, votes, moderation, error reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from certplatform.community import group_exam, service
from certplatform.community.contracts import (
    AbuseReportIn,
    CommentIn,
    CommentOut,
    DebriefOut,
    ErrorReportIn,
    ErrorReportOut,
    ErrorReportUpdate,
    GroupExamIn,
    GroupExamOut,
    ModerationIn,
    NoticeOut,
    ReportStatus,
    ThreadOut,
    VoteIn,
)
from certplatform.kernel.auth import Principal, UoW, require, signed_in
from certplatform.kernel.bounds import INT32_MAX, Id
from certplatform.kernel.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["community"])

Reader = Annotated[Principal | None, Depends(require("discussion", "read"))]
Writer = Annotated[Principal | None, Depends(require("discussion", "write"))]
Moderator = Annotated[Principal | None, Depends(require("discussion", "moderate"))]
Reporter = Annotated[Principal | None, Depends(require("error_report", "create"))]
Reviewer = Annotated[Principal | None, Depends(require("error_report", "review"))]
SelfReader = Annotated[Principal | None, Depends(require("self", "read"))]
RoomUser = Annotated[Principal | None, Depends(require("room", "use"))]
SelfWriter = Annotated[Principal | None, Depends(require("self", "update"))]


def limiter(request: Request) -> service.CommunityLimiter:
    found: service.CommunityLimiter = request.app.state.community_limiter
    return found


@router.get("/questions/{question_id}/discussion", response_model=ThreadOut)
async def thread(question_id: Id, uow: UoW, principal: Reader) -> ThreadOut:
    """The question's discussion; 409 while the question is part of the caller's open
    attempt."""
    return await service.thread(uow, signed_in(principal), question_id)


@router.post(
    "/questions/{question_id}/discussion/comments", response_model=CommentOut, status_code=201
)
async def post_comment(
    question_id: Id, body: CommentIn, request: Request, uow: UoW, principal: Writer
) -> CommentOut:
    """Add a comment (Markdown; raw HTML is shown as text). At most 5,000 characters;
    too many comments in a minute get 429 with Retry-After."""
    return await service.post_comment(
        uow, limiter(request), signed_in(principal), question_id, body
    )


@router.get("/comments/{comment_id}", response_model=CommentOut)
async def get_comment(comment_id: Id, uow: UoW, principal: Reader) -> CommentOut:
    return await service.comment(uow, signed_in(principal), comment_id)


@router.patch("/comments/{comment_id}", response_model=CommentOut)
async def edit_comment(
    comment_id: Id, body: CommentIn, request: Request, uow: UoW, principal: Writer
) -> CommentOut:
    """Edit one's own comment."""
    return await service.edit_comment(uow, limiter(request), signed_in(principal), comment_id, body)


@router.delete("/comments/{comment_id}", status_code=204)
async def delete_comment(comment_id: Id, uow: UoW, principal: Writer) -> None:
    """Delete one's own comment; the thread shows it as deleted."""
    await service.delete_comment(uow, signed_in(principal), comment_id)


@router.put("/comments/{comment_id}/vote", response_model=CommentOut)
async def vote(comment_id: Id, body: VoteIn, uow: UoW, principal: Writer) -> CommentOut:
    """One vote per user and comment: +1, -1, or 0 to take it back."""
    return await service.vote(uow, signed_in(principal), comment_id, body.value)


@router.put("/comments/{comment_id}/accepted", response_model=CommentOut)
async def accept(comment_id: Id, uow: UoW, principal: Moderator) -> CommentOut:
    """Make this the accepted answer of its thread (authors and admins)."""
    return await service.accept(uow, signed_in(principal), comment_id, accepted=True)


@router.delete("/comments/{comment_id}/accepted", response_model=CommentOut)
async def unaccept(comment_id: Id, uow: UoW, principal: Moderator) -> CommentOut:
    return await service.accept(uow, signed_in(principal), comment_id, accepted=False)


@router.put("/comments/{comment_id}/moderation", response_model=CommentOut)
async def moderate(
    comment_id: Id, body: ModerationIn, uow: UoW, principal: Moderator
) -> CommentOut:
    """Hide a comment from learners, or unhide it (authors and admins)."""
    return await service.moderate(uow, signed_in(principal), comment_id, hidden=body.hidden)


@router.post("/comments/{comment_id}/abuse-reports", status_code=204)
async def report_abuse(
    comment_id: Id, body: AbuseReportIn, request: Request, uow: UoW, principal: Writer
) -> None:
    """Flag a comment for the moderators."""
    await service.report_abuse(uow, limiter(request), signed_in(principal), comment_id, body)


@router.post(
    "/questions/{question_id}/error-reports", response_model=ErrorReportOut, status_code=201
)
async def file_error_report(
    question_id: Id, body: ErrorReportIn, request: Request, uow: UoW, principal: Reporter
) -> ErrorReportOut:
    """Report that a question is wrong (wrong key, outdated law, typo, unclear)."""
    return await service.file_error_report(
        uow, limiter(request), signed_in(principal), question_id, body
    )


@router.get("/error-reports", response_model=list[ErrorReportOut])
async def error_reports(
    uow: UoW,
    _: Reviewer,
    status: ReportStatus | None = None,
    certification: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> list[ErrorReportOut]:
    """The authors' review queue, newest first."""
    return await service.error_reports(
        uow, status=status, certification=certification, limit=limit, offset=offset
    )


@router.get("/error-reports/{report_id}", response_model=ErrorReportOut)
async def error_report(report_id: Id, uow: UoW, _: Reviewer) -> ErrorReportOut:
    return await service.get_error_report(uow, report_id)


@router.patch("/error-reports/{report_id}", response_model=ErrorReportOut)
async def update_error_report(
    report_id: Id, body: ErrorReportUpdate, uow: UoW, principal: Reviewer
) -> ErrorReportOut:
    """Close a report without editing the question (the reporter is told), or reopen it.
    Editing the question closes its open reports by itself."""
    return await service.update_error_report(uow, signed_in(principal), report_id, body)


@router.get("/me/notices", response_model=list[NoticeOut])
async def notices(uow: UoW, principal: SelfReader) -> list[NoticeOut]:
    return await service.notices(uow, signed_in(principal))


@router.delete("/me/notices/{notice_id}", status_code=204)
async def dismiss_notice(notice_id: Id, uow: UoW, principal: SelfWriter) -> None:
    await service.dismiss_notice(uow, signed_in(principal), notice_id)


@router.post("/rooms/{room_id}/group-exams", response_model=GroupExamOut, status_code=201)
async def start_group_exam(
    room_id: Id, body: GroupExamIn, uow: UoW, principal: RoomUser
) -> GroupExamOut:
    """The room's owner starts a group mock exam from a blueprint for themself and the
    listed members (those in good standing; at most 30): every member gets their own
    attempt of the same form on one clock. 409 while one is running in the room."""
    return await group_exam.start(
        uow, signed_in(principal), room_id, body.blueprint_id, list(body.member_ids)
    )


@router.get("/rooms/{room_id}/group-exam", response_model=GroupExamOut)
async def latest_group_exam(room_id: Id, uow: UoW, principal: RoomUser) -> GroupExamOut:
    """The room's running (else last) group exam: its clock, each member's progress as
    counts, and the caller's own attempt id if they sit it."""
    exam = await group_exam.latest(uow, signed_in(principal), room_id)
    if exam is None:
        raise NotFound(group_exam.NO_GROUP_EXAM)
    return exam


@router.get("/group-exams/{exam_id}/debrief", response_model=DebriefOut)
async def group_exam_debrief(exam_id: Id, uow: UoW, principal: RoomUser) -> DebriefOut:
    """Once every attempt is graded: the group's correct rate per question, the most
    missed (now in each member's review queue) and the caller's own score. 409 before;
    404 for anyone who did not sit it."""
    return await group_exam.debrief(uow, signed_in(principal), exam_id)
