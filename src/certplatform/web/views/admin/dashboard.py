"""/admin: question counts by status for every certification."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.web.views.admin._shared import STATUSES, QuestionReader, UoW, admin_page

router = APIRouter(include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
async def dashboard(request: Request, uow: UoW, _: QuestionReader) -> HTMLResponse:
    rows = []
    for cert in await content.list_certifications(uow):
        detail = await content.certification_detail(uow, cert.code)
        rows.append((detail, sum(detail.question_counts.values())))
    return admin_page(request, "dashboard.html", {"rows": rows, "statuses": STATUSES})
