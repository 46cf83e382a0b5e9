"""Pages: a certification's past papers by year and round (연도·회차별 기출), and the
learner's search of published questions. Both only list and link: taking a paper goes
through the exam steps (`/exam/prepare/paper/...`) or a practice run, and a search result
opens as a practice run, so keys appear only where practice shows them, after an answer."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import Invalid
from certplatform.learning import library
from certplatform.web.i18n import N_
from certplatform.web.templating import page
from certplatform.web.views.common import UoW, redirect
from certplatform.web.views.practice import excerpt

router = APIRouter(include_in_schema=False)
Catalog = Annotated[Principal | None, Depends(Requirement("catalog", "read"))]
Practice = Annotated[Principal | None, Depends(Requirement("practice", "use"))]
MAX_QUERY = 200
MAX_CODE = 64


@router.get("/certifications/{code}/papers", response_class=HTMLResponse)
async def papers_page(request: Request, code: str, uow: UoW, principal: Catalog) -> HTMLResponse:
    """연도·회차별 기출: the fixed papers grouped by year, newest first."""
    detail = await content.certification_detail(uow, code)
    entries = await library.past_papers(uow, principal, code)
    years = [
        {"year": year, "papers": list(group)} for year, group in groupby(entries, lambda e: e.year)
    ]
    return page(request, "papers.html", {"cert": detail, "years": years})


@router.get("/papers/{paper_id}/practice", response_model=None)
async def practise_paper(
    request: Request, paper_id: str, uow: UoW, principal: Practice
) -> Response:
    """Practise a past paper's questions in its order (a GET that redirects, as
    `/practice/start` does: a new practice run changes nothing worth forging)."""
    run = await library.practice_paper(uow, signed_in(principal), paper_id)
    return redirect(f"/practice/{run.id}/0")


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request, uow: UoW, principal: Practice, q: str = "", certification: str = ""
) -> HTMLResponse:
    if len(q) > MAX_QUERY or len(certification) > MAX_CODE:
        raise Invalid(N_("The search is too long (200 characters at most)."))
    user = signed_in(principal)
    certifications = await content.list_certifications(uow)
    known = {c.code: c.name for c in certifications}
    chosen = certification if certification in known else ""
    results = (
        await library.search_questions(uow, user, q, certification=chosen or None)
        if q.strip()
        else []
    )
    context = {
        "q": q,
        "certification": chosen,
        "certifications": certifications,
        "names": known,
        "results": results,
        "excerpt": excerpt,
    }
    return page(request, "search.html", context)


@router.get("/search/{question_id}/practice", response_model=None)
async def practise_found(
    request: Request, question_id: str, uow: UoW, principal: Practice
) -> Response:
    run = await library.practice_found(uow, signed_in(principal), question_id)
    return redirect(f"/practice/{run.id}/0")
