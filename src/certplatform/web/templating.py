"""Jinja2 for the pages: autoescaped, translated through `i18n`, with the helpers pages use."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from certplatform.kernel.zones import DEFAULT_ZONE, known_zone, zone
from certplatform.web import charts, i18n
from certplatform.web.markdown import render as render_markdown

ZONE_COOKIE = "tz"  # the browser's own zone, set by static/js/zone.js
THEME_COOKIE = "theme"  # light | dark | auto (the system's choice); set by POST /theme
THEMES = ("auto", "light", "dark")
_zone: ContextVar[str] = ContextVar("zone", default=DEFAULT_ZONE)

env = Environment(
    loader=PackageLoader("certplatform.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


def zone_name(request: Request) -> str:
    """Where this person's times are shown: their setting, else their browser's, else Seoul."""
    user = getattr(request.state, "principal", None)
    chosen = user.time_zone if user is not None else None
    return known_zone(chosen) or known_zone(request.cookies.get(ZONE_COOKIE)) or DEFAULT_ZONE


def _when(value: datetime | None, fmt: str = "medium", *, with_zone: bool = False) -> str:
    """A moment in the reader's zone and language; `with_zone` names the zone (deadlines)."""
    if value is None:
        return ""
    tz = zone(_zone.get())
    shown = format_datetime(value, fmt, tzinfo=tz, locale=i18n.current())
    return f"{shown} ({value.astimezone(tz).tzname()})" if with_zone else shown


def _day(value: date | None) -> str:
    return "" if value is None else format_date(value, "medium", locale=i18n.current())


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


env.filters["markdown"] = render_markdown
env.filters["when"] = _when
env.filters["day"] = _day
env.filters["number"] = _number
env.globals["bar_chart"] = charts.bars
env.globals["line_chart"] = charts.line


def csrf_token(request: Request) -> str:
    """The token forms must send: the session's once signed in, else the anonymous one."""
    user = getattr(request.state, "principal", None)
    if user is not None and user.csrf_token:
        return str(user.csrf_token)
    return str(request.scope.get("state", {}).get("anon_csrf", ""))


def theme(request: Request) -> str:
    """The colour scheme chosen by cookie; the page renders with it, so there is no flash."""
    chosen = request.cookies.get(THEME_COOKIE, "")
    return chosen if chosen in THEMES else "auto"


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs (language, user, CSRF token, path)."""
    user = getattr(request.state, "principal", None)
    _zone.set(zone_name(request))
    data = {
        "request": request,
        "lang": i18n.current(),
        "user": user,
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        "theme": theme(request),
        **(context or {}),
    }
    return HTMLResponse(env.get_template(template).render(data), status_code=status)
