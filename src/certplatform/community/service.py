"""The public face of community: per-question discussion, error reports and notices.

A thread is readable only once the reader may see the question's key: never while the
question is part of one of their open attempts (learning decides, `locked_questions`).
Writes leave an event in the outbox (the audit context records them); nothing commits here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from certplatform.community import events
from certplatform.community import repository as repo
from certplatform.community.contracts import (
    AbuseReportIn,
    CommentIn,
    CommentOut,
    ErrorReportIn,
    ErrorReportOut,
    ErrorReportUpdate,
    NoticeOut,
    ReportStatus,
    ThreadOut,
)
from certplatform.community.models import Comment, ErrorReport, Notice
from certplatform.content import service as content
from certplatform.content.contracts import QuestionOut, QuestionStatus
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import Conflict, Forbidden, NotFound, TooManyRequests
from certplatform.kernel.events import record_event
from certplatform.kernel.ratelimit import as_storage
from certplatform.learning import service as learning

MODERATORS = frozenset({"author", "admin"})
VISIBLE_TO_LEARNERS = frozenset({QuestionStatus.PUBLISHED, QuestionStatus.RETIRED})
LOCKED_MESSAGE = (
    "This question is part of your exam in progress; its discussion opens after you submit."
)
COMMENT_LIMIT_MESSAGE = "You are commenting too fast; wait a minute and try again."
REPORT_LIMIT_MESSAGE = "You have sent many reports in a short time; wait a while and try again."
NO_COMMENT = "No such comment."
NO_REPORT = "No such error report."


class CommunityLimiter:
    """Moving-window limits per user on comments (new and edited) and on reports."""

    def __init__(
        self,
        per_user_comments: str,
        per_user_reports: str,
        storage_url: Storage | str = "async+memory://",
    ) -> None:
        self._limiter = MovingWindowRateLimiter(as_storage(storage_url))
        self._comments = parse(per_user_comments)
        self._reports = parse(per_user_reports)

    async def comment(self, user_id: str) -> None:
        if not await self._limiter.hit(self._comments, "comment", user_id):
            raise TooManyRequests(
                COMMENT_LIMIT_MESSAGE, retry_after=await self._retry_after(self._comments, user_id)
            )

    async def report(self, user_id: str) -> None:
        if not await self._limiter.hit(self._reports, "report", user_id):
            raise TooManyRequests(
                REPORT_LIMIT_MESSAGE, retry_after=await self._retry_after(self._reports, user_id)
            )

    async def reset(self) -> None:
        await self._limiter.storage.reset()

    async def _retry_after(self, item: object, user_id: str) -> int:
        key = "comment" if item is self._comments else "report"
        stats = await self._limiter.get_window_stats(item, key, user_id)  # type: ignore[arg-type]
        return max(1, int(stats.reset_time - utcnow().timestamp()) + 1)


def is_moderator(principal: Principal) -> bool:
    return principal.role in MODERATORS


async def _question(uow: UnitOfWork, principal: Principal, question_id: str) -> QuestionOut:
    """The question, if this reader may discuss it now (see the module docstring)."""
    found = await content.get_questions(uow, [question_id], served=not is_moderator(principal))
    if not found or (not is_moderator(principal) and found[0].status not in VISIBLE_TO_LEARNERS):
        raise NotFound("No such question.")
    if await learning.locked_questions(uow, principal, [question_id]):
        raise Conflict(LOCKED_MESSAGE)
    return found[0]


async def _names(uow: UnitOfWork, user_ids: Sequence[str]) -> dict[str, str]:
    return await identity.display_names(uow, user_ids)


async def _outs(uow: UnitOfWork, principal: Principal, rows: Sequence[Comment]) -> list[CommentOut]:
    ids = [r.id for r in rows]
    scores = await repo.scores(uow.session, ids, principal.user_id)
    moderator = is_moderator(principal)
    abuse = await repo.abuse_counts(uow.session, ids) if moderator else {}
    names = await _names(uow, [r.author_id for r in rows])
    outs = []
    for row in rows:
        mine = row.author_id == principal.user_id
        deleted = row.deleted_at is not None
        hidden = row.hidden_at is not None
        shown = not deleted and (not hidden or moderator or mine)
        score, my_vote = scores.get(row.id, (0, 0))
        outs.append(
            CommentOut(
                id=row.id,
                question_id=row.question_id,
                author_id=row.author_id,
                author_name=names.get(row.author_id, "?"),
                body=row.body if shown else "",
                created_at=row.created_at,
                edited_at=row.edited_at,
                deleted=deleted,
                hidden=hidden,
                accepted=row.accepted,
                score=score,
                my_vote=my_vote,
                mine=mine,
                abuse_reports=abuse.get(row.id, 0) if moderator else None,
            )
        )
    return outs


def _event(uow: UnitOfWork, topic: str, comment: Comment, actor: Principal) -> None:
    record_event(
        uow.session,
        topic,
        {"comment_id": comment.id, "question_id": comment.question_id, "actor": actor.user_id},
    )


async def thread(uow: UnitOfWork, principal: Principal, question_id: str) -> ThreadOut:
    """The discussion of a question, oldest first (refused during an open attempt)."""
    question = await _question(uow, principal, question_id)
    rows = await repo.thread(uow.session, question_id)
    return ThreadOut(
        question_id=question.id,
        certification_code=question.certification_code,
        external_id=question.external_id,
        stem=question.version.content.stem,
        comments=tuple(await _outs(uow, principal, rows)),
        can_moderate=is_moderator(principal),
        my_open_reports=await repo.open_reports_of(uow.session, question_id, principal.user_id),
    )


async def comment(uow: UnitOfWork, principal: Principal, comment_id: str) -> CommentOut:
    row = await uow.session.get(Comment, comment_id)
    if row is None:
        raise NotFound(NO_COMMENT)
    await _question(uow, principal, row.question_id)
    return (await _outs(uow, principal, [row]))[0]


async def post_comment(
    uow: UnitOfWork,
    limiter: CommunityLimiter,
    principal: Principal,
    question_id: str,
    body: CommentIn,
) -> CommentOut:
    """Add a comment (Markdown, shown with raw HTML as text) to the question's thread."""
    await _question(uow, principal, question_id)
    await limiter.comment(principal.user_id)
    row = Comment(
        id=new_id(),
        question_id=question_id,
        author_id=principal.user_id,
        body=body.body,
        created_at=utcnow(),
        accepted=False,
    )
    uow.session.add(row)
    await uow.session.flush()
    _event(uow, events.COMMENT_POSTED, row, principal)
    return (await _outs(uow, principal, [row]))[0]


async def _locked_comment(uow: UnitOfWork, principal: Principal, comment_id: str) -> Comment:
    row = await repo.comment_for_update(uow.session, comment_id)
    if row is None:
        raise NotFound(NO_COMMENT)
    await _question(uow, principal, row.question_id)
    return row


async def _own_live_comment(uow: UnitOfWork, principal: Principal, comment_id: str) -> Comment:
    row = await _locked_comment(uow, principal, comment_id)
    if row.author_id != principal.user_id:
        raise Forbidden("You can change only your own comments.")
    if row.deleted_at is not None:
        raise Conflict("This comment has been deleted.")
    return row


async def edit_comment(
    uow: UnitOfWork,
    limiter: CommunityLimiter,
    principal: Principal,
    comment_id: str,
    body: CommentIn,
) -> CommentOut:
    """Replace the text of one's own comment (not once a moderator hid it)."""
    row = await _own_live_comment(uow, principal, comment_id)
    if row.hidden_at is not None:
        raise Conflict("A moderator hid this comment; it can no longer be edited.")
    await limiter.comment(principal.user_id)
    if body.body != row.body:
        row.body = body.body
        row.edited_at = utcnow()
        _event(uow, events.COMMENT_EDITED, row, principal)
    await uow.session.flush()
    return (await _outs(uow, principal, [row]))[0]


async def delete_comment(uow: UnitOfWork, principal: Principal, comment_id: str) -> str:
    """Delete one's own comment: it stays in place as "deleted", its text is gone.
    Returns the question id (pages go back to its thread)."""
    row = await _own_live_comment(uow, principal, comment_id)
    row.deleted_at = utcnow()
    row.body = ""
    row.accepted = False
    await uow.session.flush()
    _event(uow, events.COMMENT_DELETED, row, principal)
    return row.question_id


async def vote(uow: UnitOfWork, principal: Principal, comment_id: str, value: int) -> CommentOut:
    """Vote a comment up (+1) or down (-1), or take the vote back (0); one vote per user."""
    row = await _locked_comment(uow, principal, comment_id)
    if row.author_id == principal.user_id:
        raise Forbidden("You cannot vote on your own comment.")
    if row.deleted_at is not None or row.hidden_at is not None:
        raise Conflict("This comment can no longer be voted on.")
    await repo.set_vote(uow.session, comment_id, principal.user_id, value)
    return (await _outs(uow, principal, [row]))[0]


def _moderator(principal: Principal) -> None:
    if not is_moderator(principal):
        raise Forbidden("Only authors and admins moderate discussions.")


async def accept(
    uow: UnitOfWork, principal: Principal, comment_id: str, *, accepted: bool = True
) -> CommentOut:
    """Mark the comment as the thread's accepted answer (one per thread), or unmark it."""
    _moderator(principal)
    row = await _locked_comment(uow, principal, comment_id)
    if accepted and (row.deleted_at is not None or row.hidden_at is not None):
        raise Conflict("A deleted or hidden comment cannot be the accepted answer.")
    if accepted:
        await repo.accept_only(uow.session, row.question_id, row.id)
    elif row.accepted:
        await repo.accept_only(uow.session, row.question_id, None)
    await uow.session.refresh(row)
    if accepted:
        _event(uow, events.COMMENT_ACCEPTED, row, principal)
    return (await _outs(uow, principal, [row]))[0]


async def moderate(
    uow: UnitOfWork, principal: Principal, comment_id: str, *, hidden: bool
) -> CommentOut:
    """Hide a comment from learners (its writer and moderators still see it), or unhide it."""
    _moderator(principal)
    row = await _locked_comment(uow, principal, comment_id)
    if hidden and row.hidden_at is None:
        row.hidden_at, row.hidden_by, row.accepted = utcnow(), principal.user_id, False
        _event(uow, events.COMMENT_HIDDEN, row, principal)
    elif not hidden and row.hidden_at is not None:
        row.hidden_at, row.hidden_by = None, None
        _event(uow, events.COMMENT_UNHIDDEN, row, principal)
    await uow.session.flush()
    return (await _outs(uow, principal, [row]))[0]


async def report_abuse(
    uow: UnitOfWork,
    limiter: CommunityLimiter,
    principal: Principal,
    comment_id: str,
    report: AbuseReportIn,
) -> str:
    """Flag a comment for the moderators; a second report by the same user changes nothing.
    Returns the question id."""
    row = await _locked_comment(uow, principal, comment_id)
    if row.author_id == principal.user_id:
        raise Conflict("You cannot report your own comment; edit or delete it instead.")
    await limiter.report(principal.user_id)
    if await repo.add_abuse_report(
        uow.session, comment_id, principal.user_id, report.reason, utcnow()
    ):
        _event(uow, events.COMMENT_REPORTED, row, principal)
    return row.question_id


# ---- error reports (이의 신고) -------------------------------------------------------------


def _report_out(
    row: ErrorReport, question: QuestionOut | None = None, reporter: str = ""
) -> ErrorReportOut:
    out = ErrorReportOut.model_validate(row)
    return out.model_copy(
        update={
            "external_id": question.external_id if question else None,
            "current_version": question.version.number if question else None,
            "reporter_name": reporter,
        }
    )


async def file_error_report(
    uow: UnitOfWork,
    limiter: CommunityLimiter,
    principal: Principal,
    question_id: str,
    report: ErrorReportIn,
) -> ErrorReportOut:
    """Report that a question is wrong; it waits in the authors' review queue."""
    question = await _question(uow, principal, question_id)
    await limiter.report(principal.user_id)
    row = ErrorReport(
        id=new_id(),
        question_id=question.id,
        certification_code=question.certification_code,
        reported_version=question.version.number,
        reporter_id=principal.user_id,
        reason=report.reason.value,
        note=report.note,
        status=ReportStatus.OPEN.value,
        resolution="",
        created_at=utcnow(),
    )
    uow.session.add(row)
    await uow.session.flush()
    record_event(
        uow.session,
        events.ERROR_REPORT_FILED,
        {
            "report_id": row.id,
            "question_id": row.question_id,
            "reason": row.reason,
            "actor": principal.user_id,
        },
    )
    return _report_out(row, question)


async def error_reports(
    uow: UnitOfWork,
    *,
    status: ReportStatus | None = None,
    certification: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ErrorReportOut]:
    """The review queue, newest first, with each question's current version."""
    rows = await repo.error_reports(
        uow.session,
        status=status.value if status else None,
        certification=certification or None,
        limit=limit,
        offset=offset,
    )
    questions = {
        q.id: q for q in await content.get_questions(uow, sorted({r.question_id for r in rows}))
    }
    names = await _names(uow, [r.reporter_id for r in rows])
    return [
        _report_out(r, questions.get(r.question_id), names.get(r.reporter_id, "?")) for r in rows
    ]


async def get_error_report(uow: UnitOfWork, report_id: str) -> ErrorReportOut:
    row = await uow.session.get(ErrorReport, report_id)
    if row is None:
        raise NotFound(NO_REPORT)
    questions = await content.get_questions(uow, [row.question_id])
    names = await _names(uow, [row.reporter_id])
    return _report_out(row, questions[0] if questions else None, names.get(row.reporter_id, "?"))


def _notify(uow: UnitOfWork, row: ErrorReport, kind: str) -> None:
    uow.session.add(
        Notice(
            id=new_id(),
            user_id=row.reporter_id,
            kind=kind,
            question_id=row.question_id,
            report_id=row.id,
            version=row.resolved_version,
            created_at=utcnow(),
        )
    )


def _resolved_event(uow: UnitOfWork, row: ErrorReport, actor: str | None) -> None:
    record_event(
        uow.session,
        events.ERROR_REPORT_RESOLVED,
        {
            "report_id": row.id,
            "question_id": row.question_id,
            "version": row.resolved_version,
            "actor": actor,
        },
    )


async def update_error_report(
    uow: UnitOfWork, principal: Principal, report_id: str, change: ErrorReportUpdate
) -> ErrorReportOut:
    """Close a report without an edit (the reporter is told), or open it again."""
    row = await repo.error_report_for_update(uow.session, report_id)
    if row is None:
        raise NotFound(NO_REPORT)
    if change.status.value != row.status:
        if change.status is ReportStatus.RESOLVED:
            row.status, row.resolved_at, row.resolved_by = "resolved", utcnow(), principal.user_id
            row.resolution = change.resolution
            _notify(uow, row, "report_closed")
            _resolved_event(uow, row, principal.user_id)
        else:
            row.status, row.resolved_at, row.resolved_by = "open", None, None
            row.resolved_version, row.resolution = None, ""
    elif change.resolution:
        row.resolution = change.resolution
    await uow.session.flush()
    return await get_error_report(uow, row.id)


async def resolve_for_new_version(
    uow: UnitOfWork, question_id: str, version: int, actor: str | None, edited_at: datetime
) -> int:
    """A new version of the question closes the reports filed before it and tells each
    reporter. Safe to run twice for one edit: the second run finds nothing open."""
    rows = await repo.resolve_open_reports(
        uow.session, question_id, version, actor, utcnow(), edited_at
    )
    for row in rows:
        _notify(uow, row, "report_resolved")
        _resolved_event(uow, row, actor)
    return len(rows)


async def notices(uow: UnitOfWork, principal: Principal, limit: int = 10) -> list[NoticeOut]:
    """The learner's unread notices, newest first."""
    rows = await repo.notices(uow.session, principal.user_id, limit)
    return [NoticeOut.model_validate(r) for r in rows]


async def dismiss_notice(uow: UnitOfWork, principal: Principal, notice_id: str) -> None:
    if not await repo.mark_notice_read(uow.session, notice_id, principal.user_id, utcnow()):
        raise NotFound("No such notice.")
