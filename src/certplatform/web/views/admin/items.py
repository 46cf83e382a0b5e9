"""/admin/items (authors): item statistics of a certification's bank."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.analytics.items import item_report
from certplatform.kernel.auth import Principal, Requirement
from certplatform.web.views.admin._shared import UoW, admin_page, certifications

router = APIRouter(include_in_schema=False)
QuestionReader = Annotated[Principal | None, Depends(Requirement("question", "read"))]


@router.get("/admin/items", response_class=HTMLResponse)
async def items(
    request: Request,
    uow: UoW,
    _: QuestionReader,
    certification: Annotated[str, Query(max_length=64)] = "",
    flagged: bool = False,
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
        {"rows": rows, "certification": chosen, "certifications": certs, "flagged": flagged},
    )
