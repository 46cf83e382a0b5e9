"""The home page, the certification catalogue and a certification's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.analytics import dashboard as analytics_board
from certplatform.community import service as community
from certplatform.content import service as content
from certplatform.kernel.auth import Principal, Requirement
from certplatform.learning import service as learning
from certplatform.web.templating import page
from certplatform.web.views.common import UoW

router = APIRouter(include_in_schema=False)
Catalog = Annotated[Principal | None, Depends(Requirement("catalog", "read"))]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, uow: UoW, principal: Catalog) -> HTMLResponse:
    certifications = await content.list_certifications(uow)
    if principal is None:
        return page(request, "welcome.html", {"certifications": certifications})
    user: Principal = principal
    due = await learning.due_counts(uow, user)
    attempts = await learning.my_attempts(uow, user, limit=5)
    settings = await learning.get_settings(uow, user)
    studied = await learning.studied_certifications(uow, user)
    mine = studied | {a.certification for a in attempts} | set(due) | set(settings.exam_dates)
    # Nothing done yet: greet a newcomer and walk them through the first steps.
    new = not studied and not attempts
    open_attempt = next((a for a in attempts if a.status == "open"), None)
    if open_attempt:
        next_step = ("resume", open_attempt.id)
    elif sum(due.values()):
        next_step = ("review", max(due, key=due.__getitem__))
    elif mine:
        next_step = ("practice", sorted(mine)[0])
    else:
        next_step = ("choose", "")
    return page(
        request,
        "home.html",
        {
            "certifications": certifications,
            "mine": [c for c in certifications if c.code in mine],
            "due": due,
            "attempts": attempts,
            "exam_dates": settings.exam_dates,
            "next_step": next_step,
            "notices": await community.notices(uow, user, limit=5),
            "regrades": await analytics_board.regrade_notices(uow, user.user_id),
            "new": new,
        },
    )


@router.get("/certifications", response_class=HTMLResponse)
async def catalogue(request: Request, uow: UoW, _: Catalog) -> HTMLResponse:
    certifications = await content.list_certifications(uow)
    details = [await content.certification_detail(uow, c.code) for c in certifications]
    return page(request, "catalog.html", {"details": details})


@router.get("/certifications/{code}", response_class=HTMLResponse)
async def certification(request: Request, code: str, uow: UoW, principal: Catalog) -> HTMLResponse:
    detail = await content.certification_detail(uow, code)
    blueprints = await content.blueprints(uow, code)
    papers = await content.past_paper_summaries(uow, code)
    progress: dict[str, object] = {}
    if principal is not None:
        progress = {
            "due": (await learning.due_counts(uow, principal)).get(code, 0),
            "notes": len(await learning.wrong_notes(uow, principal, code)),
            "attempts": [
                a for a in await learning.my_attempts(uow, principal, 50) if a.certification == code
            ],
        }
    return page(
        request,
        "certification.html",
        {"cert": detail, "blueprints": blueprints, "papers": papers, "progress": progress},
    )
