"""Everything the web edge adds to the app: middleware, static files, pages, HTML errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from certplatform.kernel.errors import AppError, NotAuthenticated
from certplatform.web import i18n
from certplatform.web.security import WebMiddleware
from certplatform.web.templating import page
from certplatform.web.views import (
    account,
    admin,
    community,
    exam,
    home,
    library,
    practice,
    progress,
    recovery,
    rooms,
)

STATIC = Path(__file__).parent / "static"
PAGE_ROUTERS = (
    account.router,
    home.router,
    practice.router,
    exam.router,
    community.router,
    rooms.router,
    admin.router,
    library.router,
    recovery.router,
    progress.router,
)


def is_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/graphql", "/static/"))


# The pages of each web role: the learner site and the back office (each can sign in).
LEARNER_ROUTERS = (
    account.router,
    home.router,
    practice.router,
    exam.router,
    community.router,
    library.router,
    recovery.router,
    rooms.router,
    progress.router,
)
ADMIN_ROUTERS = (account.router, admin.router, recovery.router)


def install(
    app: FastAPI, *, secure_cookies: bool, routers: tuple[APIRouter, ...] = PAGE_ROUTERS
) -> None:
    """The web middleware always (its headers and CSRF check guard every role); the static
    files and the given page routers only where a role serves pages."""
    app.add_middleware(WebMiddleware, secure_cookies=secure_cookies)
    if not routers:
        return
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Browsers ask for /favicon.ico whatever the page links to; a static file like /static.
    app.add_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)
    for router in routers:
        app.include_router(router)


async def _favicon(_: Request) -> FileResponse:
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


N_ = i18n.N_
TITLES = {
    401: N_("Sign in to continue"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    409: N_("Not possible right now"),
    422: N_("Please check your input"),
    429: N_("Too many attempts"),
}
# Messages of the services that pages show as they are; translated like page text.
SERVICE_MESSAGES = (
    N_("That exam date has passed; choose today or a later day."),
    N_("Choose a time zone from the list."),
    N_("Wrong email or password."),
    N_("Too many failed sign-ins for this account; wait a minute and try again."),
    N_("Too many sign-in attempts from your network; wait a minute and try again."),
    N_("This account has too many failed sign-ins from many places; try again later."),
    N_("Too many sign-ups from your network; wait a while and try again."),
    N_("The password needs at least 10 characters."),
    N_("The password is too long (128 characters at most)."),
    N_(
        "This password is too common; choose one that is harder to guess, "
        "such as a few unrelated words."
    ),
    N_("The password must not be your email address or built from it."),
    N_("The current password is wrong."),
    N_("The form expired; reload the page and try again."),
    N_("Missing or wrong CSRF token; reload the page and try again."),
    N_("Sign in to do this."),
    N_("No such attempt."),
    N_("No such question."),
    N_("This attempt has been submitted; answers can no longer change."),
    N_("Time is up: the exam ended at the deadline, so this answer was not saved."),
    N_("No published questions match this choice yet."),
    N_("Your wrong-answer note is empty for this choice."),
    N_("You have no bookmarks here yet."),
    N_("Nothing is due for review right now."),
    N_("You have answered every question here at least once."),
    N_("This question is part of your exam in progress; practise it after you submit."),
    N_("This review shows questions of your exam in progress; open it after you submit."),
    N_("This question is part of your exam in progress; its discussion opens after you submit."),
    N_("You are commenting too fast; wait a minute and try again."),
    N_("You have sent many reports in a short time; wait a while and try again."),
    N_("No such comment."),
    N_("No such error report."),
    N_("No such notice."),
    N_("You can change only your own comments."),
    N_("This comment has been deleted."),
    N_("A moderator hid this comment; it can no longer be edited."),
    N_("You cannot vote on your own comment."),
    N_("This comment can no longer be voted on."),
    N_("Only authors and admins moderate discussions."),
    N_("A deleted or hidden comment cannot be the accepted answer."),
    N_("You cannot report your own comment; edit or delete it instead."),
    N_("Every question here is part of your exam in progress; practise them after you submit."),
    N_("No question was answered wrongly here, so there is nothing to retry."),
    N_("The attempt is still open; submit it first."),
)


def html_error(request: Request, exc: AppError) -> Response:
    """Errors on pages are pages: sign-in redirects, or a readable error page."""
    if isinstance(exc, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={target}", status_code=303)
    title = i18n.gettext(TITLES.get(exc.status_code, N_("Something went wrong")))
    response: HTMLResponse = page(
        request,
        "error.html",
        {"title": title, "message": i18n.error_text(exc)},
        exc.status_code,
    )
    return response
