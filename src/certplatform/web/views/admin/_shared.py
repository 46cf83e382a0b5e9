"""What the back-office pages share: who may open them, form reading, page rendering."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import CertificationOut, QuestionStatus
from certplatform.kernel.auth import Principal, Requirement
from certplatform.kernel.storage import LocalStorage
from certplatform.web import i18n
from certplatform.web.templating import page
from certplatform.web.views.common import UoW

__all__ = [
    "N_",
    "AuditReader",
    "Exporter",
    "FormReader",
    "FormWriter",
    "Importer",
    "MediaWriter",
    "Publisher",
    "QuestionReader",
    "QuestionWriter",
    "Regrader",
    "UoW",
    "UserReader",
    "UserWriter",
]

QuestionReader = Annotated[Principal | None, Depends(Requirement("question", "read"))]
QuestionWriter = Annotated[Principal | None, Depends(Requirement("question", "write"))]
Publisher = Annotated[Principal | None, Depends(Requirement("question", "publish"))]
MediaWriter = Annotated[Principal | None, Depends(Requirement("media", "write"))]
Importer = Annotated[Principal | None, Depends(Requirement("import", "run"))]
Exporter = Annotated[Principal | None, Depends(Requirement("export", "run"))]
FormReader = Annotated[Principal | None, Depends(Requirement("form", "read"))]
FormWriter = Annotated[Principal | None, Depends(Requirement("form", "write"))]
UserReader = Annotated[Principal | None, Depends(Requirement("user", "read"))]
UserWriter = Annotated[Principal | None, Depends(Requirement("user", "write"))]
AuditReader = Annotated[Principal | None, Depends(Requirement("audit", "read"))]
Regrader = Annotated[Principal | None, Depends(Requirement("regrade", "run"))]

STATUSES = tuple(s.value for s in QuestionStatus)


class Form:
    """A submitted form, read field by field (repeated names keep their order)."""

    def __init__(self, data: FormData) -> None:
        self.data = data

    @classmethod
    async def read(cls, request: Request) -> Form:
        return cls(await request.form())

    def get(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else default

    def raw(self, name: str) -> str:
        """A text as typed (line breaks and inner spaces kept), CRLF as LF."""
        value = self.data.get(name)
        return value.replace("\r\n", "\n") if isinstance(value, str) else ""

    def all(self, name: str) -> list[str]:
        return [v if isinstance(v, str) else "" for v in self.data.getlist(name)]

    def flag(self, name: str) -> bool:
        return self.get(name) in ("1", "on", "true", "yes")

    def file(self, name: str) -> UploadFile | None:
        value = self.data.get(name)
        if isinstance(value, UploadFile) and (value.filename or value.size):
            return value
        return None


def N_(message: str) -> str:  # noqa: N802 - the marker name gettext tools look for
    """Mark an English message for extraction; it is translated where it is shown."""
    return message


def storage(request: Request) -> LocalStorage:
    store: LocalStorage = request.app.state.storage
    return store


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def admin_page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    return page(request, f"admin/{template}", context, status)


async def certifications(uow: UoW) -> list[CertificationOut]:
    return await content.list_certifications(uow)


def query(**params: object) -> str:
    """A query string of the parameters that have a value."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)})


def message_of(error: ErrorDetails) -> str:
    """A pydantic error as the service words it (without pydantic's 'Value error, ')."""
    text = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return i18n.gettext(text)


def field_errors(exc: ValidationError, path: dict[tuple[Any, ...], str]) -> dict[str, str]:
    """Map each pydantic error to a field key; `path` maps loc prefixes to keys (longest
    prefix wins; an `int` in a prefix is a placeholder filled from the loc)."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = _key_for(loc, path)
        out.setdefault(key, message_of(error))
    return out


def _key_for(loc: tuple[Any, ...], path: dict[tuple[Any, ...], str]) -> str:
    best: tuple[int, str] = (-1, "")
    for prefix, key in path.items():
        if len(prefix) > len(loc) or len(prefix) <= best[0]:
            continue
        values: list[Any] = []
        for want, got in zip(prefix, loc, strict=False):
            if want is int and isinstance(got, int):
                values.append(got)
            elif want != got:
                break
        else:
            best = (len(prefix), key.format(*values))
    return best[1] or "form"
