"""What the page routes share: form reading, redirects, safe `next` targets."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from starlette.requests import Request

from certplatform.kernel.auth import UoW

__all__ = ["UoW", "form", "redirect", "safe_next"]


async def form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never redirect to another host after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
