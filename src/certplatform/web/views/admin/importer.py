"""The import wizard (upload → dry run → apply) and export downloads.

The uploaded file waits between the steps in `MEDIA_DIR/imports/<token>`, so that checking
again with other options or applying never needs a second upload; files older than a day
are removed whenever a new one arrives.
"""

from __future__ import annotations

import asyncio
import csv
import re
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from certplatform.content import service as content
from certplatform.content.contracts import ImportSummary, QuestionStatus
from certplatform.content.formats import registry
from certplatform.content.formats.base import ImportFormatError, unreadable_file
from certplatform.content.service import ImportRejected
from certplatform.kernel.auth import Principal
from certplatform.kernel.errors import AppError, Invalid
from certplatform.kernel.media import attachment_headers
from certplatform.kernel.settings import Settings
from certplatform.web import i18n
from certplatform.web.views.admin._shared import (
    N_,
    STATUSES,
    Exporter,
    Form,
    Importer,
    UoW,
    admin_page,
    storage,
)
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)

FORMATS = tuple(registry.FORMATS)
WRITABLE = tuple(name for name, fmt in registry.FORMATS.items() if fmt.writable)
IMPORT_STATUSES = ("draft", "review", "published")
MAX_UPLOAD = 200 * 1024 * 1024
KEEP_SECONDS = 24 * 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Options:
    token: str = ""
    filename: str = ""
    format: str = "gift"
    certification: str = ""
    name: str = ""
    map: str = ""
    status: str = "draft"
    skip_invalid: bool = False

    @classmethod
    def from_form(cls, form: Form) -> Options:
        fmt = form.get("format")
        status = form.get("status")
        return cls(
            token=form.get("token"),
            filename=form.get("filename")[:200],
            format=fmt if fmt in FORMATS else "gift",
            certification=form.get("certification"),
            name=form.get("name"),
            map=form.get("map") if fmt == "csv" else "",
            status=status if status in IMPORT_STATUSES else "draft",
            skip_invalid=form.flag("skip_invalid"),
        )


def _folder(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return settings.media_dir / "imports"


def _keep(request: Request, data: bytes) -> str:
    folder = _folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if old.is_file() and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    (folder / token).write_bytes(data)
    return token


def _kept(request: Request, token: str) -> bytes:
    path = _folder(request) / token
    if not TOKEN.match(token) or not path.is_file():
        raise Invalid(N_("The uploaded file is no longer here; upload it again."))
    return path.read_bytes()


def _forget(request: Request, token: str) -> None:
    if TOKEN.match(token):
        (_folder(request) / token).unlink(missing_ok=True)


def csv_columns(data: bytes) -> list[str]:
    """The header row of a CSV file, to help write a column map."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            line = first.decode(encoding)
        except UnicodeDecodeError:
            continue
        delimiter = max(",;\t", key=line.count)
        return [c.strip() for c in next(csv.reader([line], delimiter=delimiter), []) if c.strip()]
    return []


async def _run(
    request: Request,
    uow: UoW,
    principal: Principal | None,
    options: Options,
    data: bytes,
    *,
    apply: bool,
) -> ImportSummary:
    if not options.certification:
        raise Invalid(N_("Enter the certification code."))
    try:
        # Parsing is CPU-bound; a thread keeps the server answering meanwhile.
        parsed = await asyncio.to_thread(
            registry.read, options.format, data, registry.ReadOptions(mapping=options.map or None)
        )
    except ImportFormatError as exc:
        raise unreadable_file(options.filename, exc) from exc
    return await content.import_drafts(
        uow,
        storage(request),
        options.certification,
        parsed.drafts,
        parse_errors=parsed.errors,
        certification_name=options.name or None,
        status=QuestionStatus(options.status),
        dry_run=not apply,
        skip_invalid=options.skip_invalid if apply else True,
        actor=principal,
        source_name=options.filename,
        two_person_rule=request.app.state.settings.content_two_person_rule,
    )


async def _import_page(
    request: Request,
    uow: UoW,
    *,
    options: Options | None = None,
    error: str | None = None,
    export_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return admin_page(
        request,
        "import.html",
        {
            "options": options or Options(),
            "certifications": await content.list_certifications(uow),
            "formats": FORMATS,
            "writable": WRITABLE,
            "import_statuses": IMPORT_STATUSES,
            "statuses": STATUSES,
            "error": error,
            "export_error": export_error,
        },
        status,
    )


async def _preview_page(
    request: Request,
    uow: UoW,
    options: Options,
    data: bytes | None,
    *,
    summary: ImportSummary | None = None,
    errors: list[str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    known = {c.code for c in await content.list_certifications(uow)}
    planned = summary.items if summary else ()
    if errors is None:
        errors = [_localized(i.problem or i.error) for i in planned if i.action == "error"]
    items = [i for i in planned if i.action in ("create", "update")]
    context: dict[str, Any] = {
        "options": options,
        "summary": summary,
        "items": items,
        "errors": errors,
        # Importing would be refused: the button stays off (ticking "skip" lifts it).
        "blocked": bool(errors) and not options.skip_invalid,
        "error": error,
        "new_certification": options.certification not in known,
        "columns": csv_columns(data) if data and options.format == "csv" else [],
        "certifications": await content.list_certifications(uow),
        "formats": FORMATS,
        "import_statuses": IMPORT_STATUSES,
    }
    return admin_page(request, "import_preview.html", context, status)


@router.get("/admin/import", response_class=HTMLResponse)
async def import_form(request: Request, uow: UoW, _: Importer) -> HTMLResponse:
    return await _import_page(request, uow)


@router.post("/admin/import", response_class=HTMLResponse)
async def upload(request: Request, uow: UoW, principal: Importer) -> HTMLResponse:
    """Step 1 → 2: keep the file, then show what importing it would do."""
    form = await Form.read(request)
    options = Options.from_form(form)
    upload = form.file("file")
    if upload is None:
        error = i18n.gettext("Choose the file to import.")
        return await _import_page(request, uow, options=options, error=error, status=422)
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        error = i18n.gettext("The file is larger than 200 MB.")
        return await _import_page(request, uow, options=options, error=error, status=422)
    token = await asyncio.to_thread(_keep, request, data)
    options = replace(options, token=token, filename=(upload.filename or "")[:200])
    return await _check(request, uow, principal, options, data)


async def _check(
    request: Request, uow: UoW, principal: Principal | None, options: Options, data: bytes
) -> HTMLResponse:
    try:
        summary = await _run(request, uow, principal, options, data, apply=False)
    except AppError as exc:
        await uow.rollback()
        return await _preview_page(
            request, uow, options, data, error=i18n.error_text(exc), status=exc.status_code
        )
    return await _preview_page(request, uow, options, data, summary=summary)


@router.post("/admin/import/preview", response_class=HTMLResponse)
async def check_again(request: Request, uow: UoW, principal: Importer) -> HTMLResponse:
    """Step 2 again, with other options, on the file already uploaded."""
    options = Options.from_form(await Form.read(request))
    try:
        data = await asyncio.to_thread(_kept, request, options.token)
    except Invalid as exc:
        message = i18n.error_text(exc)
        return await _import_page(request, uow, options=options, error=message, status=422)
    return await _check(request, uow, principal, options, data)


@router.post("/admin/import/apply", response_class=HTMLResponse)
async def apply(request: Request, uow: UoW, principal: Importer) -> HTMLResponse:
    """Step 3: import for real; the kept file is removed once imported."""
    options = Options.from_form(await Form.read(request))
    try:
        data = await asyncio.to_thread(_kept, request, options.token)
    except Invalid as exc:
        message = i18n.error_text(exc)
        return await _import_page(request, uow, options=options, error=message, status=422)
    try:
        summary = await _run(request, uow, principal, options, data, apply=True)
    except AppError as exc:
        await uow.rollback()
        errors = [_localized(p) for p in exc.problems] if isinstance(exc, ImportRejected) else None
        return await _preview_page(
            request,
            uow,
            options,
            data,
            errors=errors,
            error=i18n.error_text(exc),
            status=exc.status_code,
        )
    await uow.commit()
    await asyncio.to_thread(_forget, request, options.token)
    return admin_page(request, "import_done.html", {"options": options, "summary": summary})


@router.get("/admin/export", response_model=None)
async def export(
    request: Request,
    uow: UoW,
    _: Exporter,
    certification: str = "",
    format: str = "gift",
    status: str = "",
) -> Response:
    if not certification:
        return redirect("/admin/import#export")
    try:
        if format not in WRITABLE:
            raise Invalid(N_("Choose one of %(formats)s."), formats=", ".join(WRITABLE))
        chosen = QuestionStatus(status) if status in STATUSES else None
        drafts = await content.export_drafts(uow, storage(request), certification, chosen)
        try:
            data = await asyncio.to_thread(registry.write, format, drafts)
        except (ImportFormatError, ValueError) as exc:
            raise Invalid(str(exc)) from exc
    except AppError as exc:
        return await _import_page(
            request, uow, export_error=i18n.error_text(exc), status=exc.status_code
        )
    fmt = registry.get_format(format)
    return Response(
        data,
        media_type=fmt.media_type,
        headers=attachment_headers(f"{certification}.{fmt.extension}"),
    )


def _localized(problem: object) -> str:
    """An item's problem in the page's language (item errors know their catalog message)."""
    localized = getattr(problem, "localized", None)
    return localized(i18n.gettext) if callable(localized) else i18n.gettext(str(problem))
