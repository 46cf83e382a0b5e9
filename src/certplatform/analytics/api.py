"""Analytics REST routes under /api/v1: the learner's dashboard, and item statistics per
exam form for authors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from certplatform.analytics import service
from certplatform.analytics.contracts import Dashboard, FormListing, FormReport
from certplatform.analytics.form_report import form_report, forms_of
from certplatform.kernel.auth import Principal, UoW, require, signed_in
from certplatform.kernel.bounds import Code, Id

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Progress = Annotated[Principal | None, Depends(require("progress", "read"))]
FormReader = Annotated[Principal | None, Depends(require("form", "read"))]


@router.get("/analytics/dashboard", response_model=Dashboard)
async def my_dashboard(
    uow: UoW,
    principal: Progress,
    certification: Annotated[Code | None, Query()] = None,
) -> Dashboard:
    """My progress in one certification (by default the one whose exam is nearest, else
    the one I studied last): streak, scores, subjects, review load, chance of passing."""
    return await service.my_dashboard(uow, signed_in(principal), certification)


@router.get("/analytics/forms", response_model=list[FormListing])
async def exam_forms(
    uow: UoW, _: FormReader, certification: Annotated[Code, Query()]
) -> list[FormListing]:
    """The certification's blueprints and past papers with their graded sittings."""
    return await forms_of(uow, certification)


@router.get("/analytics/forms/{form_id}/items", response_model=FormReport)
async def exam_form_items(
    uow: UoW,
    _: FormReader,
    form_id: Annotated[Id, Path()],
    all_attempts: Annotated[bool, Query()] = False,
) -> FormReport:
    """Item statistics within one form's sittings (each learner's first by default):
    facility, discrimination, distractors, time, IRT a/b/c, flags; and the form's mean,
    median, SD, skewness, kurtosis, Cronbach's alpha and standard error."""
    return await form_report(uow, form_id, first_only=not all_attempts)
