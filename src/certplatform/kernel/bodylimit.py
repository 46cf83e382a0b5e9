"""A cap on request bodies, enforced before the application reads them.

Pure ASGI (not BaseHTTPMiddleware, which would buffer the body first): a declared
Content-Length over the cap is answered 413 without calling the application, and a body sent
in chunks is counted as it streams and refused at the first chunk that crosses the cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body crosses the cap. An HTTPException, so
    that FastAPI's body parsing passes it on instead of calling it a malformed body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))
        self.limit = limit


def too_large_message(limit: int) -> str:
    mb = 1024 * 1024
    size = f"{limit / mb:g} MB" if limit >= mb else f"{limit / 1024:g} KB"
    return f"The request body is larger than {size}; send less."


def too_large_body(limit: int) -> bytes:
    return json.dumps(
        {"error": {"code": "too_large", "message": too_large_message(limit)}}
    ).encode()


class BodyLimit:
    """At most `default` bytes per request body; paths matching a pattern of `larger`
    (uploads) get that pattern's limit instead."""

    def __init__(
        self, app: ASGIApp, *, default: int, larger: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.default = default
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def limit_for(self, path: str) -> int:
        return next((limit for p, limit in self.larger if p.match(path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return

        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            # Whoever read the body let the error through unanswered; answer it here.
            if started:
                raise
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
