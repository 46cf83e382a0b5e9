"""The web edge's request plumbing: language, CSRF cookie for anonymous forms, and the
security headers of every response."""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certplatform.kernel.errors import Forbidden
from certplatform.web import i18n

LANG_COOKIE = "lang"
CSRF_COOKIE = "cp_csrf"
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The API explorer at /docs loads its own assets; everything else is held to the strict CSP.
CSP_EXEMPT = ("/docs", "/redoc")


class WebMiddleware:
    """Sets the request's language, hands out the anonymous CSRF cookie, adds headers."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool) -> None:
        self.app = app
        self.secure = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(API_PREFIXES):
            # JSON callers need no anonymous form token and no language: only the headers.
            await self.app(scope, receive, _with_headers(send, path))
            return
        cookies = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies.load(value.decode("latin-1"))
        lang = cookies.get(LANG_COOKIE)
        i18n.set_language(i18n.pick(lang.value if lang else None))
        anon = cookies.get(CSRF_COOKIE)
        token = anon.value if anon else secrets.token_urlsafe(24)
        scope.setdefault("state", {})["anon_csrf"] = token

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = _security_headers(message, path)
                if anon is None:
                    secure = "; Secure" if self.secure else ""
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)


API_PREFIXES = ("/api/", "/graphql")
CALL_PAGES = "/rooms/"


def _security_headers(message: Message, path: str) -> MutableHeaders:
    headers = MutableHeaders(scope=message)
    if not path.startswith(CSP_EXEMPT):
        headers.setdefault("content-security-policy", CSP)
    headers.setdefault("referrer-policy", "same-origin")
    headers.setdefault("x-content-type-options", "nosniff")
    headers.setdefault("x-frame-options", "DENY")
    # Only the study rooms' call may ask for the camera and microphone (ADR 0024).
    media = "(self)" if path.startswith(CALL_PAGES) else "()"
    headers.setdefault("permissions-policy", f"camera={media}, microphone={media}, geolocation=()")
    return headers


def _with_headers(send: Send, path: str) -> Send:
    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            _security_headers(message, path)
        await send(message)

    return send_wrapper


def check_anonymous_csrf(request: Request, sent: str | None) -> None:
    """Double-submit check for forms used before signing in (sign-in, sign-up, language)."""
    expected = request.cookies.get(CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("The form expired; reload the page and try again.")
