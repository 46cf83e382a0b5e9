"""Analytics REST routes under /api/v1: the learner's dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from certplatform.analytics import service
from certplatform.analytics.contracts import Dashboard
from certplatform.kernel.auth import Principal, UoW, require, signed_in
from certplatform.kernel.bounds import Code

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
    return await service.my_dashboard(uow, signed_in(principal), certification)
