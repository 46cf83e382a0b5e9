"""/admin/forms (authors): item statistics per exam form (ADR 32)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.analytics.form_report import form_report, forms_of
from certplatform.kernel.bounds import Id
from certplatform.web.views.admin._shared import FormReader, UoW, admin_page, certifications

router = APIRouter(include_in_schema=False)


@router.get("/admin/forms", response_class=HTMLResponse)
async def forms(
    request: Request,
    uow: UoW,
    _: FormReader,
    certification: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """The certification's blueprints and past papers, with their graded sittings."""
    certs = await certifications(uow)
    chosen = certification or (certs[0].code if certs else "")
    return admin_page(
        request,
        "forms.html",
        {
            "forms": await forms_of(uow, chosen) if chosen else [],
            "certification": chosen,
            "certifications": certs,
        },
    )


@router.get("/admin/forms/{form_id}/items", response_class=HTMLResponse)
async def form_items(
    request: Request,
    uow: UoW,
    _: FormReader,
    form_id: Annotated[Id, Path()],
    all_attempts: bool = False,
) -> HTMLResponse:
    """Item statistics within one form's sittings and the form's own figures."""
    report = await form_report(uow, form_id, first_only=not all_attempts)
    return admin_page(request, "form_items.html", {"report": report, "all_attempts": all_attempts})
