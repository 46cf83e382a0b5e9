"""Analytics REST routes under /api/v1: the learner's dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from certplatform.analytics import dashboard as board
from certplatform.analytics.contracts import Dashboard
from certplatform.kernel.auth import Principal, UoW, require, signed_in
from certplatform.kernel.bounds import Code
from certplatform.kernel.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Progress = Annotated[Principal | None, Depends(require("progress", "read"))]


@router.get("/analytics/dashboard", response_model=Dashboard)
async def my_dashboard(
    uow: UoW,
    principal: Progress,
    certification: Annotated[Code | None, Query()] = None,
) -> Dashboard:
    """My progress in one certification (by default the one whose exam is nearest, else
    the one I studied last): streak, scores, subjects, review load, chance of passing."""
    user = signed_in(principal)
    code = certification or await board.my_certification(uow, user)
    if code is None:
        raise NotFound("Nothing studied yet: practise a certification first.")
    return await board.dashboard(uow, user, code)
