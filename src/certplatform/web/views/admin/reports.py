"""/admin/reports (authors): the review queue of learners' error reports (이의 신고)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.requests import Request

from certplatform.community import service as community
from certplatform.community.contracts import ErrorReportUpdate, ReportStatus
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Invalid
from certplatform.web import i18n
from certplatform.web.views.admin._shared import Form, UoW, admin_page, certifications, query
from certplatform.web.views.common import redirect
from certplatform.web.views.community import REASONS

router = APIRouter(include_in_schema=False)
ReportReviewer = Annotated[Principal | None, Depends(Requirement("error_report", "review"))]
PAGE = 100


@router.get("/admin/reports", response_class=HTMLResponse)
async def reports(
    request: Request,
    uow: UoW,
    _: ReportReviewer,
    status: str = "open",
    certification: Annotated[str, Query(max_length=64)] = "",
    done: str = "",
) -> HTMLResponse:
    """Open reports first: each links to the question's editor; saving a new version closes
    the question's open reports and tells the reporters."""
    chosen = ReportStatus(status) if status in {s.value for s in ReportStatus} else None
    rows = await community.error_reports(
        uow, status=chosen, certification=certification or None, limit=PAGE
    )
    return admin_page(
        request,
        "reports.html",
        {
            "reports": rows,
            "status": chosen.value if chosen else "",
            "certification": certification,
            "certifications": await certifications(uow),
            "reasons": REASONS,
            "done": done,
        },
    )


@router.post("/admin/reports/{report_id}", response_model=None)
async def update_report(
    request: Request, report_id: str, uow: UoW, principal: ReportReviewer
) -> RedirectResponse:
    data = await Form.read(request)
    try:
        change = ErrorReportUpdate(status=data.get("status"), resolution=data.raw("resolution"))
    except ValidationError as exc:
        raise Invalid(
            i18n.gettext(i18n.N_("Choose open or resolved; a note is at most 1,000 characters."))
        ) from exc
    await community.update_error_report(uow, signed_in(principal), report_id, change)
    back = query(status=data.get("back_status"), certification=data.get("back_certification"))
    return redirect(f"/admin/reports?{back}" if back else "/admin/reports")
