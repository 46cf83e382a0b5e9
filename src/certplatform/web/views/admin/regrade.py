"""/admin/regrade (admins): re-mark attempts against a question's current version."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import QuestionOut
from certplatform.identity import service as identity
from certplatform.kernel.auth import Principal
from certplatform.kernel.errors import AppError, NotFound
from certplatform.learning import service as learning
from certplatform.learning.contracts import RegradeReport
from certplatform.web import i18n
from certplatform.web.views.admin._shared import Form, Regrader, UoW, admin_page

router = APIRouter(include_in_schema=False)


async def find_question(uow: UoW, certification: str, ref: str) -> QuestionOut:
    """A question by its id, or by its external id within the certification."""
    if certification:
        found = await content.questions_by_external_id(uow, certification, [ref])
        if ref in found:
            return found[ref]
    by_id = await content.get_questions(uow, [ref])
    if by_id:
        return by_id[0]
    raise NotFound(
        f"No question '{ref}' in {certification}." if certification else f"No question '{ref}'."
    )


async def regrade_page(
    request: Request,
    uow: UoW,
    *,
    certification: str,
    ref: str,
    principal: Principal | None,
    apply: bool = False,
) -> HTMLResponse:
    report: RegradeReport | None = None
    question: QuestionOut | None = None
    error = None
    status = 200
    emails: dict[str, str] = {}
    if ref:
        try:
            question = await find_question(uow, certification, ref)
            report = await learning.regrade(uow, question.id, apply=apply, actor=principal)
        except AppError as exc:
            await uow.rollback()
            error, status = i18n.error_text(exc), exc.status_code
        for change in report.changes if report else ():
            try:
                emails[change.user_id] = (await identity.get_user(uow, change.user_id)).email
            except NotFound:
                continue
    return admin_page(
        request,
        "regrade.html",
        {
            "certifications": await content.list_certifications(uow),
            "certification": certification,
            "ref": ref,
            "question": question,
            "report": report,
            "emails": emails,
            "error": error,
        },
        status,
    )


@router.get("/admin/regrade", response_class=HTMLResponse)
async def regrade_form(
    request: Request,
    uow: UoW,
    principal: Regrader,
    certification: str = "",
    question: str = "",
) -> HTMLResponse:
    """Without a question: the form. With one: the dry run (nothing is written)."""
    return await regrade_page(
        request,
        uow,
        certification=certification.strip(),
        ref=question.strip()[:200],
        principal=principal,
    )


@router.post("/admin/regrade", response_class=HTMLResponse)
async def regrade_apply(request: Request, uow: UoW, principal: Regrader) -> HTMLResponse:
    form = await Form.read(request)
    return await regrade_page(
        request,
        uow,
        certification=form.get("certification"),
        ref=form.get("question"),
        principal=principal,
        apply=True,
    )
