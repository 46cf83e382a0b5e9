"""Pages of account mail (ADR 25): forgotten password, reset link, address change.

Mailed links open a page with a form; only its POST spends the link, so a mail scanner
that fetches links does not use them up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from certplatform.identity import recovery
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import AppError, Invalid
from certplatform.kernel.net import client_ip
from certplatform.kernel.settings import Settings
from certplatform.web import i18n
from certplatform.web.security import check_anonymous_csrf
from certplatform.web.templating import page
from certplatform.web.views.account import _form_error, _settings_page
from certplatform.web.views.common import UoW, form, redirect

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Principal | None, Depends(Requirement("public", "read"))]
Recover = Annotated[Principal | None, Depends(Requirement("account", "recover"))]
SelfWrite = Annotated[Principal | None, Depends(Requirement("self", "update"))]
EMAIL_SENT = i18n.N_(
    "We sent a link to the new address; your address changes when you open it. "
    "Your current address got a notice."
)
# The services' messages, translated where the pages show them.
MESSAGES = (
    i18n.N_(recovery.LINK_SPENT),
    i18n.N_(recovery.ADDRESS_TAKEN),
    i18n.N_(recovery.SAME_ADDRESS),
    i18n.N_(recovery.TOO_MANY_RESETS),
    i18n.N_("That is not an email address."),
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _site(request: Request) -> str:
    """Where mailed links point: PUBLIC_URL, else this request's own address."""
    return _settings(request).public_url or str(request.base_url)


def _check_csrf(request: Request, data: dict[str, str]) -> None:
    # Signed-in callers were checked by their Requirement; anonymous forms carry the cookie's.
    if getattr(request.state, "principal", None) is None:
        check_anonymous_csrf(request, data.get("csrf_token"))


def _message(exc: AppError) -> str:
    # normalise_email's message names the address; the page says it without.
    if isinstance(exc, Invalid) and exc.message.endswith("is not an email address."):
        return i18n.gettext("That is not an email address.")
    return i18n.gettext(exc.message)


@router.get("/password/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request, _: Anyone) -> HTMLResponse:
    return page(request, "password_forgot.html", {"email": "", "error": None, "sent": False})


@router.post("/password/forgot", response_class=HTMLResponse)
async def forgot(request: Request, uow: UoW, _: Recover) -> HTMLResponse:
    data = await form(request)
    _check_csrf(request, data)
    email = data.get("email", "")[:254]
    try:
        await recovery.request_password_reset(
            uow,
            _settings(request),
            request.app.state.recovery_limits,
            request.app.state.mailer,
            email,
            ip=client_ip(request),
            site=_site(request),
        )
    except AppError as exc:
        await uow.rollback()
        context = {"email": email, "error": _message(exc), "sent": False}
        return _form_error(page(request, "password_forgot.html", context, exc.status_code), exc)
    return page(request, "password_forgot.html", {"email": "", "error": None, "sent": True})


@router.get("/password/reset/{token}", response_class=HTMLResponse)
async def reset_form(request: Request, token: str, uow: UoW, _: Anyone) -> HTMLResponse:
    live = await recovery.reset_link_is_live(uow, _settings(request), token)
    context = {
        "token": token,
        "live": live,
        "error": None if live else i18n.gettext(recovery.LINK_SPENT),
    }
    return page(request, "password_reset.html", context, 200 if live else 410)


@router.post("/password/reset/{token}", response_model=None)
async def reset(request: Request, token: str, uow: UoW, _: Recover) -> Response:
    data = await form(request)
    _check_csrf(request, data)
    try:
        await recovery.reset_password(
            uow, _settings(request), request.app.state.mailer, token, data.get("new_password", "")
        )
    except AppError as exc:
        await uow.rollback()
        live = await recovery.reset_link_is_live(uow, _settings(request), token)
        context = {"token": token, "live": live, "error": _message(exc)}
        return page(request, "password_reset.html", context, exc.status_code)
    return redirect("/signin?reset=1")


@router.post("/settings/email", response_class=HTMLResponse)
async def change_email(request: Request, uow: UoW, principal: SelfWrite) -> HTMLResponse:
    data = await form(request)
    try:
        await recovery.request_email_change(
            uow,
            _settings(request),
            request.app.state.recovery_limits,
            request.app.state.mailer,
            signed_in(principal),
            data.get("new_email", "")[:254],
            data.get("email_password", ""),
            site=_site(request),
        )
    except AppError as exc:
        await uow.rollback()
        return await _settings_page(request, uow, error=_message(exc), status=422)
    return await _settings_page(request, uow, message=i18n.gettext(EMAIL_SENT))


@router.get("/email/confirm/{token}", response_class=HTMLResponse)
async def confirm_form(request: Request, token: str, _: Anyone) -> HTMLResponse:
    return page(request, "email_confirm.html", {"token": token, "error": None, "done": None})


@router.post("/email/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, uow: UoW, _: Recover) -> HTMLResponse:
    data = await form(request)
    _check_csrf(request, data)
    try:
        new_email = await recovery.confirm_email_change(
            uow, _settings(request), request.app.state.mailer, token
        )
    except AppError as exc:
        await uow.rollback()
        context = {"token": token, "error": _message(exc), "done": None}
        return page(request, "email_confirm.html", context, exc.status_code)
    return page(request, "email_confirm.html", {"token": token, "error": None, "done": new_email})
