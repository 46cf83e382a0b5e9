"""Everything the web edge adds to the app: middleware, static files, pages, HTML errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from certplatform.kernel.errors import AppError, NotAuthenticated
from certplatform.web import i18n
from certplatform.web.security import WebMiddleware
from certplatform.web.templating import page
from certplatform.web.views import account, admin, exam, home, practice

STATIC = Path(__file__).parent / "static"
PAGE_ROUTERS = (account.router, home.router, practice.router, exam.router, admin.router)


def is_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/graphql", "/static/"))


def install(app: FastAPI, *, secure_cookies: bool) -> None:
    app.add_middleware(WebMiddleware, secure_cookies=secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router)


TITLES = {
    401: "Sign in to continue",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible right now",
    422: "Please check your input",
    429: "Too many attempts",
}


def html_error(request: Request, exc: AppError) -> Response:
    """Errors on pages are pages: sign-in redirects, or a readable error page."""
    if isinstance(exc, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={target}", status_code=303)
    title = i18n.gettext(TITLES.get(exc.status_code, "Something went wrong"))
    response: HTMLResponse = page(
        request,
        "error.html",
        {"title": title, "message": i18n.gettext(exc.message)},
        exc.status_code,
    )
    return response
