"""`PUT /api/v1/attempts/{id}/answers/{n}` as plain ASGI when the lean save is on (ADR 0020).

The route in `learning.api` stays the documented one (OpenAPI) and serves SQLite; on
PostgreSQL this middleware answers the same requests with the same checks (who calls, the
`attempt use` permission, the CSRF header of cookie sessions, the body's bounds) without the
framework's per-request dependency and validation machinery.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from certplatform.identity.api import SESSION_COOKIE, remembered_principal
from certplatform.kernel.auth import Principal, allowed, role_forbidden
from certplatform.kernel.db import database_unavailable
from certplatform.kernel.errors import (
    N_,
    AppError,
    Forbidden,
    Invalid,
    NotAuthenticated,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
    database_unavailable_error,
)
from certplatform.learning.contracts import SaveAnswer
from certplatform.learning.lean_save import LeanSaves

PATH = re.compile(r"^/api/v1/attempts/([A-Za-z0-9_-]{1,64})/answers/([0-9]{1,6})$")
ROUTE_LABEL = "/api/v1/attempts/{attempt_id}/answers/{position}"
MAX_BODY = 64 * 1024  # one answer; essays included


class _Route:
    path = ROUTE_LABEL  # what the metrics middleware labels the request with


class LeanSaveRoute:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT":
            await self.app(scope, receive, send)
            return
        match = PATH.match(scope["path"])
        saves: LeanSaves | None = getattr(scope["app"].state, "lean_saves", None)
        if match is None or saves is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route
        try:
            status, body = 200, await self._save(scope, receive, saves, match)
            headers: list[tuple[bytes, bytes]] = []
        except Exception as caught:
            exc = _app_error(caught)
            status, body = exc.status_code, _error(exc)
            headers = (
                [(b"retry-after", str(exc.retry_after).encode())]
                if isinstance(exc, TooManyRequests | Unavailable)
                else []
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _save(
        self, scope: Scope, receive: Receive, saves: LeanSaves, match: re.Match[str]
    ) -> bytes:
        app = scope["app"]
        headers = _headers(scope)
        principal = await _caller(app, saves, headers)
        role = principal.role if principal else "anonymous"
        if not allowed(app.state.enforcer, role, "attempt", "use"):
            if principal is None:
                raise NotAuthenticated("Sign in to do this.")
            raise role_forbidden(role, "attempt", "use")
        assert principal is not None  # anonymous callers may not use attempts
        if principal.via == "cookie":
            sent = headers.get("x-csrf-token", "")
            if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
                raise Forbidden("Missing or wrong CSRF token; reload the page and try again.")
        raw = await _body(receive, headers)
        try:
            op = SaveAnswer.model_validate_json(raw)
        except ValidationError as exc:
            raise _invalid(exc) from None
        if op.answer is None and op.flagged is None:
            raise Invalid("Send an answer, a flag, or both.")
        ack = await saves.save(principal, match[1], int(match[2]), op)
        return ack.model_dump_json().encode()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _caller(app: Any, saves: LeanSaves, headers: dict[str, str]) -> Principal | None:
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token, via = authorization[7:].strip(), "bearer"
    else:
        token, via = _cookie(headers.get("cookie", ""), SESSION_COOKIE), "cookie"
    if not token:
        return None
    cached: Principal | None = app.state.principals.get(token, via)
    if cached is not None:
        return cached
    async with saves.db.transaction() as uow:
        return await remembered_principal(app.state.principals, uow, token, via)


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


async def _body(receive: Receive, headers: dict[str, str]) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise PayloadTooLarge(N_("An answer is at most %(kb)s KB."), kb=MAX_BODY // 1024)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(N_("An answer is at most %(kb)s KB."), kb=MAX_BODY // 1024)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _invalid(exc: ValidationError) -> Invalid:
    problems = [
        {"field": ".".join(["body", *(str(p) for p in e["loc"])]), "message": e["msg"]}
        for e in exc.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return Invalid(message, details=problems)


def _app_error(exc: Exception) -> AppError:
    """The error to answer with; a database that is down or restarting is a 503 (the pool
    reconnects by itself), anything else unexpected goes on up as a 500."""
    if isinstance(exc, AppError):
        return exc
    if database_unavailable(exc):
        return database_unavailable_error()
    raise exc


def _error(exc: AppError) -> bytes:
    import json

    return json.dumps(exc.to_dict(), ensure_ascii=False).encode()
