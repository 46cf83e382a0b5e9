"""/admin/audit (admins): the audit log with filters and paging, and the chain check."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from certplatform.audit import service as audit
from certplatform.audit.contracts import AuditEntryOut, VerifyResult
from certplatform.identity import service as identity
from certplatform.kernel.errors import AppError, Invalid, NotFound
from certplatform.kernel.zones import zone as zone_info
from certplatform.web import i18n
from certplatform.web.templating import env, zone_name
from certplatform.web.views.admin._shared import (
    AuditReader,
    UoW,
    admin_page,
    is_htmx,
    query,
    storage,
)
from certplatform.web.views.admin.questions import page_number

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
SUBJECT_TYPES = ("user", "question", "certification", "blueprint", "past_paper", "attempt")


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    subject_type: str = ""
    subject: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    def url(self, **changes: object) -> str:
        values = {**asdict(self), **changes}
        if values["page"] == 1:
            values["page"] = None
        return "/admin/audit" + (f"?{qs}" if (qs := query(**values)) else "")


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(i18n.N_("%(field)s is not a date (YYYY-MM-DD)."), field=name) from None


async def _user_id(uow: UoW, value: str) -> str:
    """An email stands for its account's id; anything else is taken as an id."""
    if "@" not in value:
        return value
    try:
        user = await identity.find_user(uow, value)
    except Invalid:
        return value
    return user.id if user else value


async def _names(uow: UoW, entries: list[AuditEntryOut]) -> dict[str, str]:
    """Emails of the accounts the entries name, to show people rather than ids."""
    ids = {e.actor_id for e in entries if e.actor_id}
    ids |= {e.subject_id for e in entries if e.subject_type == "user" and e.subject_id}
    names: dict[str, str] = {}
    for user_id in ids:
        try:
            names[user_id] = (await identity.get_user(uow, user_id)).email
        except NotFound:
            continue
    return names


async def audit_page(
    request: Request, uow: UoW, filters: AuditFilters, result: VerifyResult | None = None
) -> HTMLResponse:
    zone = zone_info(zone_name(request))  # the days of the filter are the reader's days
    entries: list[AuditEntryOut] = []
    error = None
    status = 200
    try:
        since = _day(filters.since, "from")
        until = _day(filters.until, "to")
        entries = await audit.list_entries(
            uow,
            action_prefix=filters.action or None,
            actor_id=await _user_id(uow, filters.actor) if filters.actor else None,
            subject_type=filters.subject_type or None,
            subject_id=await _user_id(uow, filters.subject) if filters.subject else None,
            since=datetime.combine(since, time(), zone) if since else None,
            until=datetime.combine(until + timedelta(days=1), time(), zone) if until else None,
            limit=PAGE_SIZE + 1,
            offset=(filters.page - 1) * PAGE_SIZE,
        )
    except AppError as exc:
        error, status = i18n.error_text(exc), exc.status_code
    return admin_page(
        request,
        "audit.html",
        {
            "filters": filters,
            "entries": entries[:PAGE_SIZE],
            "more": len(entries) > PAGE_SIZE,
            "names": await _names(uow, entries[:PAGE_SIZE]),
            "subject_types": SUBJECT_TYPES,
            "result": result,
            "error": error,
        },
        status,
    )


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    uow: UoW,
    _: AuditReader,
    action: str = "",
    actor: str = "",
    subject_type: str = "",
    subject: str = "",
    since: str = "",
    until: str = "",
    page: str = "1",
) -> HTMLResponse:
    filters = AuditFilters(
        action=action.strip()[:200],
        actor=actor.strip()[:254],
        subject_type=subject_type if subject_type in SUBJECT_TYPES else "",
        subject=subject.strip()[:200],
        since=since.strip(),
        until=until.strip(),
        page=page_number(page),
    )
    return await audit_page(request, uow, filters)


@router.get("/admin/audit/verify", response_class=HTMLResponse)
async def verify(request: Request, uow: UoW, _: AuditReader) -> HTMLResponse:
    """Walk the hash chain: an HTMX fragment, or the log page with the result on top."""
    result = await audit.verify(uow, keys=request.app.state.audit_keys, store=storage(request))
    if is_htmx(request):
        return HTMLResponse(env.get_template("admin/_verify.html").render(result=result))
    return await audit_page(request, uow, AuditFilters(), result)
