"""Sign up, sign in, sign out, settings, and the language switch."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.identity import service as identity
from certplatform.identity.api import SESSION_COOKIE, set_session_cookie
from certplatform.kernel.auth import Principal, Requirement, signed_in
from certplatform.kernel.errors import AppError, Invalid, NotAuthenticated, TooManyRequests
from certplatform.kernel.net import client_ip
from certplatform.kernel.settings import Settings
from certplatform.kernel.zones import known_zone, zone_names
from certplatform.learning import service as learning
from certplatform.learning.contracts import LearningSettings
from certplatform.web import i18n
from certplatform.web.security import LANG_COOKIE, check_anonymous_csrf
from certplatform.web.templating import THEME_COOKIE, THEMES, ZONE_COOKIE, page
from certplatform.web.views.common import UoW, form, redirect, safe_next

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Principal | None, Depends(Requirement("public", "read"))]
SignIn = Annotated[Principal | None, Depends(Requirement("session", "create"))]
Self = Annotated[Principal | None, Depends(Requirement("self", "read"))]
SelfWrite = Annotated[Principal | None, Depends(Requirement("self", "update"))]
SignOut = Annotated[Principal | None, Depends(Requirement("session", "delete"))]
SIGNED_UP = i18n.N_("Check your email to finish signing up, then sign in here.")
PASSWORD_RESET = i18n.N_("Your password has been changed. Sign in with the new one.")


def _form_error(response: HTMLResponse, exc: AppError) -> HTMLResponse:
    """A form page that shows an error keeps the error's Retry-After, as the API does."""
    if isinstance(exc, TooManyRequests):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(
    request: Request, _: Anyone, next: str = "/", signed_up: bool = False, reset: bool = False
) -> HTMLResponse:
    context = {
        "next": safe_next(next),
        "email": "",
        "error": None,
        "notice": i18n.gettext(SIGNED_UP if signed_up else PASSWORD_RESET)
        if signed_up or reset
        else None,
    }
    return page(request, "signin.html", context)


@router.post("/signin")
async def signin(request: Request, uow: UoW, _: SignIn) -> Response:
    data = await form(request)
    check_anonymous_csrf(request, data.get("csrf_token"))
    settings: Settings = request.app.state.settings
    target = safe_next(data.get("next"))
    try:
        issued = await identity.sign_in(
            uow,
            request.app.state.login_limiter,
            data.get("email", ""),
            data.get("password", ""),
            kind="cookie",
            ip=client_ip(request),
            days=settings.session_days,
        )
    except AppError as exc:
        await uow.commit()  # keep the failed-login record for the audit log
        context = {
            "next": target,
            "email": data.get("email", ""),
            "error": i18n.error_text(exc),
            "notice": None,
        }
        return _form_error(page(request, "signin.html", context, status=exc.status_code), exc)
    response = redirect(target)
    set_session_cookie(response, settings, issued.token)
    return response


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request, _: Anyone) -> HTMLResponse:
    return page(request, "signup.html", {"email": "", "display_name": "", "error": None})


@router.post("/signup")
async def signup(request: Request, uow: UoW, _: SignIn) -> Response:
    """The same redirect for a new and a taken address (see identity.service.sign_up); no
    session is opened here, so a taken address gives its claimant nothing."""
    data = await form(request)
    check_anonymous_csrf(request, data.get("csrf_token"))
    try:
        await identity.sign_up(
            uow,
            request.app.state.login_limiter,
            data.get("email", ""),
            data.get("password", ""),
            ip=client_ip(request),
            display_name=data.get("display_name", ""),
            mailer=request.app.state.mailer,
        )
    except AppError as exc:
        await uow.rollback()
        context = {
            "email": data.get("email", ""),
            "display_name": data.get("display_name", ""),
            "error": i18n.error_text(exc),
        }
        return _form_error(page(request, "signup.html", context, status=exc.status_code), exc)
    return redirect("/signin?signed_up=1")


@router.post("/signout")
async def signout(uow: UoW, principal: SignOut) -> RedirectResponse:
    await identity.sign_out(uow, signed_in(principal))
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
async def switch_language(request: Request, _: Anyone) -> RedirectResponse:
    data = await form(request)
    if getattr(request.state, "principal", None) is None:
        check_anonymous_csrf(request, data.get("csrf_token"))
    response = redirect(safe_next(data.get("next")))
    response.set_cookie(
        LANG_COOKIE, i18n.pick(data.get("lang")), max_age=365 * 86400, samesite="lax", path="/"
    )
    return response


@router.post("/theme")
async def switch_theme(request: Request, _: Anyone) -> RedirectResponse:
    """Light, dark or the system's scheme, kept in a cookie the pages render with."""
    data = await form(request)
    if getattr(request.state, "principal", None) is None:
        check_anonymous_csrf(request, data.get("csrf_token"))
    chosen = data.get("theme", "")
    if chosen not in THEMES:
        raise Invalid(i18n.N_("Choose light, dark or the system's setting."))
    response = redirect(safe_next(data.get("next")))
    response.set_cookie(THEME_COOKIE, chosen, max_age=365 * 86400, samesite="lax", path="/")
    return response


async def _settings_page(
    request: Request,
    uow: UoW,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    principal = signed_in(getattr(request.state, "principal", None))
    context = {
        "settings": await learning.get_settings(uow, principal),
        "certifications": await content.list_certifications(uow),
        "time_zone": principal.time_zone,
        "browser_zone": known_zone(request.cookies.get(ZONE_COOKIE)),
        "zones": zone_names(),
        "message": message,
        "error": error,
    }
    return page(request, "settings.html", context, status=status)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, uow: UoW, _: Self) -> HTMLResponse:
    return await _settings_page(request, uow)


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(request: Request, uow: UoW, principal: SelfWrite) -> HTMLResponse:
    data = await form(request)
    try:
        dates = {
            key.removeprefix("exam_"): date.fromisoformat(value)
            for key, value in data.items()
            if key.startswith("exam_") and value
        }
        wanted = LearningSettings(
            # People read and write the retention in per cent, as the review page shows it.
            desired_retention=float(data.get("desired_retention_percent", "90")) / 100,
            exam_dates=dates,
        )
    except ValueError:
        return await _settings_page(
            request,
            uow,
            error=i18n.gettext("Check the retention (70 to 97) and the dates."),
            status=422,
        )
    try:
        await learning.update_settings(uow, signed_in(principal), wanted)
    except Invalid as exc:
        return await _settings_page(request, uow, error=i18n.error_text(exc), status=422)
    return await _settings_page(request, uow, message=i18n.gettext("Saved."))


@router.post("/settings/zone", response_class=HTMLResponse)
async def save_time_zone(request: Request, uow: UoW, principal: SelfWrite) -> HTMLResponse:
    chosen = (await form(request)).get("time_zone", "") or None
    try:
        await identity.set_time_zone(uow, signed_in(principal), chosen)
    except Invalid as exc:
        return await _settings_page(request, uow, error=i18n.error_text(exc), status=422)
    # This very page already shows times in the new zone.
    request.state.principal = replace(signed_in(principal), time_zone=chosen)
    return await _settings_page(request, uow, message=i18n.gettext("Saved."))


@router.post("/settings/password", response_class=HTMLResponse)
async def change_password(request: Request, uow: UoW, principal: SelfWrite) -> Response:
    data = await form(request)
    try:
        await identity.change_password(
            uow,
            signed_in(principal),
            data.get("current_password", ""),
            data.get("new_password", ""),
        )
    except (Invalid, NotAuthenticated) as exc:
        await uow.rollback()
        return await _settings_page(request, uow, error=i18n.error_text(exc), status=422)
    notice = i18n.gettext("Password changed. Every other session has been signed out.")
    return await _settings_page(request, uow, message=notice)
