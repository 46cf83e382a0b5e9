"""The learner's progress dashboard page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.analytics import dashboard as board
from certplatform.content import service as content
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.bounds import CODE_LENGTH
from certplatform.learning import service as learning
from certplatform.web.templating import page
from certplatform.web.views.common import UoW

router = APIRouter(include_in_schema=False)
Progress = Annotated[Principal | None, Depends(Requirement("progress", "read"))]


@router.get("/progress", response_class=HTMLResponse)
async def progress(
    request: Request, uow: UoW, principal: Progress, certification: str = ""
) -> HTMLResponse:
    user = signed_in(principal)
    code = certification[:CODE_LENGTH] or await board.my_certification(uow, user)
    studied = await learning.studied_certifications(uow, user)
    settings = await learning.get_settings(uow, user)
    mine = studied | set(settings.exam_dates) | ({code} if code else set())
    choices = [c for c in await content.list_certifications(uow) if c.code in mine]
    data = await board.dashboard(uow, user, code) if code else None
    return page(request, "progress.html", {"board": data, "choices": choices})
