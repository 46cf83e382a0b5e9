"""Jinja2 for the pages: autoescaped, translated through `i18n`, with the helpers pages use."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from certplatform.web import i18n
from certplatform.web.markdown import render as render_markdown

ZONES = {"ko": ZoneInfo("Asia/Seoul"), "en": ZoneInfo("UTC")}

env = Environment(
    loader=PackageLoader("certplatform.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


def _when(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    lang = i18n.current()
    return format_datetime(value, fmt, tzinfo=ZONES[lang], locale=lang)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


env.filters["markdown"] = render_markdown
env.filters["when"] = _when
env.filters["number"] = _number


def csrf_token(request: Request) -> str:
    """The token forms must send: the session's once signed in, else the anonymous one."""
    user = getattr(request.state, "principal", None)
    if user is not None and user.csrf_token:
        return str(user.csrf_token)
    return str(request.scope.get("state", {}).get("anon_csrf", ""))


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs (language, user, CSRF token, path)."""
    user = getattr(request.state, "principal", None)
    data = {
        "request": request,
        "lang": i18n.current(),
        "user": user,
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        **(context or {}),
    }
    return HTMLResponse(env.get_template(template).render(data), status_code=status)
