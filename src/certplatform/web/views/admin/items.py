"""/admin/items (authors): item statistics of a certification's bank, and the button that
queues a recalibration of the stored IRT parameters (ADR 32)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.requests import Request

from certplatform.analytics.calibration import last_run, request_recalibration
from certplatform.analytics.items import item_report
from certplatform.kernel.auth import Principal, Requirement
from certplatform.kernel.settings import Settings
from certplatform.web import i18n
from certplatform.web.views.admin._shared import Form, UoW, admin_page, certifications, query
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)
QuestionReader = Annotated[Principal | None, Depends(Requirement("question", "read"))]
QuestionWriter = Annotated[Principal | None, Depends(Requirement("question", "write"))]


@router.get("/admin/items", response_class=HTMLResponse)
async def items(
    request: Request,
    uow: UoW,
    _: QuestionReader,
    certification: Annotated[str, Query(max_length=64)] = "",
    flagged: bool = False,
    queued: bool = False,
) -> HTMLResponse:
    """Per question: answers, facility, point-biserial, distractor rates, time, IRT a/b,
    with flags (negative discrimination, too easy or hard, a distractor nobody picks, a
    distractor the strongest learners pick more than the key)."""
    certs = await certifications(uow)
    chosen = certification or (certs[0].code if certs else "")
    rows = await item_report(uow, chosen) if chosen else []
    if flagged:
        rows = [r for r in rows if r.flags]
    return admin_page(
        request,
        "items.html",
        {
            "rows": rows,
            "certification": chosen,
            "certifications": certs,
            "flagged": flagged,
            "calibration": await last_run(uow, chosen) if chosen else None,
            "notice": i18n.gettext("Recalibration queued: the parameters change when it is done.")
            if queued
            else "",
        },
    )


@router.post("/admin/items/recalibrate", response_model=None)
async def recalibrate(request: Request, uow: UoW, _: QuestionWriter) -> RedirectResponse:
    """Queue a calibration of the certification's items; it leaves after the commit."""
    form = await Form.read(request)
    certification = form.get("certification")[:64]
    settings: Settings = request.app.state.settings
    request_recalibration(uow, settings.calibration_model, certification or None)
    return redirect("/admin/items?" + query(certification=certification, queued=True))
