"""/admin/questions: search and filter the bank, move questions along the workflow."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import QuestionOut, QuestionStatus, SubjectOut
from certplatform.kernel.errors import AppError, Conflict, Invalid
from certplatform.web import i18n
from certplatform.web.views.admin._shared import (
    N_,
    STATUSES,
    Form,
    Publisher,
    QuestionReader,
    UoW,
    admin_page,
    query,
)
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
MOVES = ("review", "published", "retired", "draft")


def page_number(value: str) -> int:
    try:
        return max(1, min(int(value), 100_000))
    except ValueError:
        return 1


@dataclass(frozen=True)
class Filters:
    q: str = ""
    certification: str = ""
    subject: str = ""
    tag: str = ""
    status: str = ""
    page: int = 1

    def url(self, **changes: object) -> str:
        values = {**asdict(self), **changes}
        if values["page"] == 1:
            values["page"] = None
        return "/admin/questions" + (f"?{qs}" if (qs := query(**values)) else "")

    @property
    def status_value(self) -> QuestionStatus | None:
        return QuestionStatus(self.status) if self.status in STATUSES else None


async def list_page(
    request: Request,
    uow: UoW,
    filters: Filters,
    *,
    error: str | None = None,
    notice: str | None = None,
    selected: frozenset[str] = frozenset(),
    status: int = 200,
) -> HTMLResponse:
    items: list[QuestionOut] = []
    subjects: tuple[SubjectOut, ...] = ()
    more = False
    try:
        if filters.certification:
            subjects = (await content.certification_detail(uow, filters.certification)).subjects
        items = await content.find_questions(
            uow,
            query=filters.q or None,
            certification_code=filters.certification or None,
            subject_code=filters.subject or None,
            tag=filters.tag or None,
            status=filters.status_value,
            limit=PAGE_SIZE + 1,
            offset=(filters.page - 1) * PAGE_SIZE,
        )
    except AppError as exc:
        error = error or i18n.error_text(exc)
        status = status if status != 200 else exc.status_code
    more = len(items) > PAGE_SIZE
    return admin_page(
        request,
        "questions.html",
        {
            "filters": filters,
            "items": items[:PAGE_SIZE],
            "more": more,
            "certifications": await content.list_certifications(uow),
            "subjects": subjects,
            "statuses": STATUSES,
            "moves": MOVES,
            "selected": selected,
            "error": error,
            "notice": notice,
        },
        status,
    )


@router.get("/admin/questions", response_class=HTMLResponse)
async def questions(
    request: Request,
    uow: UoW,
    _: QuestionReader,
    q: str = "",
    certification: str = "",
    subject: str = "",
    tag: str = "",
    status: str = "",
    page: str = "1",
    moved: str = "",
    count: str = "0",
) -> HTMLResponse:
    filters = Filters(
        q=q.strip()[:200],
        certification=certification.strip(),
        subject=subject.strip(),
        tag=tag.strip(),
        status=status if status in STATUSES else "",
        page=page_number(page),
    )
    notice = None
    if moved in STATUSES:
        notice = i18n.ngettext(
            "%(num)d question is now %(status)s.",
            "%(num)d questions are now %(status)s.",
            page_number(count),
        ) % {"num": page_number(count), "status": status_label(moved)}
    return await list_page(request, uow, filters, notice=notice)


def status_label(status: str) -> str:
    labels = {
        "draft": i18n.gettext("Draft"),
        "review": i18n.gettext("In review"),
        "published": i18n.gettext("Published"),
        "retired": i18n.gettext("Retired"),
    }
    return labels.get(status, status)


@router.post("/admin/questions/status", response_model=None)
async def bulk_status(request: Request, uow: UoW, principal: Publisher) -> Response:
    form = await Form.read(request)
    filters = Filters(
        q=form.get("q"),
        certification=form.get("certification"),
        subject=form.get("subject"),
        tag=form.get("tag"),
        status=form.get("status") if form.get("status") in STATUSES else "",
        page=page_number(form.get("page", "1")),
    )
    ids = [i for i in form.all("question_id") if i]
    target = form.get("to")
    try:
        if not ids:
            raise Invalid(N_("Select at least one question."))
        if target not in STATUSES:
            raise Invalid(N_("Choose what to do with the selected questions."))
        await content.set_status(
            uow,
            ids,
            QuestionStatus(target),
            principal,
            two_person_rule=request.app.state.settings.content_two_person_rule,
        )
    except (Conflict, Invalid) as exc:
        await uow.rollback()
        return await list_page(
            request,
            uow,
            filters,
            error=i18n.error_text(exc),
            selected=frozenset(ids),
            status=exc.status_code,
        )
    return redirect(filters.url(moved=target, count=len(set(ids))))
