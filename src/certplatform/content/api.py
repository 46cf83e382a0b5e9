"""Question bank REST routes under /api/v1. Thin: parse, call the service, shape the reply."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field, StringConstraints

from certplatform.content import service
from certplatform.content.contracts import (
    BlueprintOut,
    BlueprintSpec,
    CertificationDetail,
    CertificationOut,
    CoverageRow,
    ImportSummary,
    LawReference,
    PastPaperOut,
    PastPaperSpec,
    PastPaperSummary,
    QuestionContent,
    QuestionDraft,
    QuestionOut,
    QuestionStatus,
    VersionOut,
)
from certplatform.content.formats import registry
from certplatform.content.formats.base import ImportFormatError, unreadable_file
from certplatform.content.uploads import router as uploads_router
from certplatform.kernel.auth import Principal, UoW, allowed, require
from certplatform.kernel.bounds import INT32_MAX, NAME_LENGTH, TEXT_LENGTH, Code, Id, Name
from certplatform.kernel.errors import Invalid
from certplatform.kernel.media import attachment_headers, served
from certplatform.kernel.storage import LocalStorage

router = APIRouter(prefix="/api/v1", tags=["content"])
Tag = Annotated[str, StringConstraints(max_length=100)]  # question_tags.tag is String(100)
MAX_UPLOAD = 200 * 1024 * 1024


def storage(request: Request) -> LocalStorage:
    store: LocalStorage = request.app.state.storage
    return store


class CertificationIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class QuestionIn(BaseModel):
    """A question as the editor sends it (media are uploaded separately)."""

    content: QuestionContent
    external_id: str | None = Field(default=None, max_length=128)
    title: str | None = Field(default=None, max_length=300)
    subject: str | None = Field(default=None, max_length=64)
    subject_name: str | None = Field(default=None, max_length=200)
    topic: str | None = Field(default=None, max_length=64)
    topic_name: str | None = Field(default=None, max_length=200)
    tags: tuple[Tag, ...] = Field(default=(), max_length=50)
    law_refs: tuple[LawReference, ...] = Field(default=(), max_length=50)
    source: str | None = Field(default=None, max_length=NAME_LENGTH)

    def draft(self) -> QuestionDraft:
        return QuestionDraft(**self.model_dump())


class QuestionEdit(QuestionIn):
    expected_version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    note: str = Field(default="", max_length=500)


class StatusChange(BaseModel):
    question_ids: list[Id] = Field(min_length=1, max_length=5000)
    status: QuestionStatus


class QuestionPage(BaseModel):
    items: list[QuestionOut]
    limit: int
    offset: int


@router.get("/certifications", response_model=list[CertificationOut])
async def certifications(
    uow: UoW, _: Annotated[object, Depends(require("catalog", "read"))]
) -> list[CertificationOut]:
    return await service.list_certifications(uow)


@router.post("/certifications", response_model=CertificationOut, status_code=201)
async def create_certification(
    body: CertificationIn, uow: UoW, _: Annotated[object, Depends(require("form", "write"))]
) -> CertificationOut:
    return await service.ensure_certification(uow, body.code, body.name, body.description)


@router.get("/certifications/{code}", response_model=CertificationDetail)
async def certification(
    code: Code, uow: UoW, _: Annotated[object, Depends(require("catalog", "read"))]
) -> CertificationDetail:
    return await service.certification_detail(uow, code)


@router.get("/certifications/{code}/blueprints", response_model=list[BlueprintOut])
async def blueprints(
    code: Code, uow: UoW, _: Annotated[object, Depends(require("catalog", "read"))]
) -> list[BlueprintOut]:
    return await service.blueprints(uow, code)


@router.put("/certifications/{code}/blueprints", response_model=BlueprintOut)
async def save_blueprint(
    code: Code,
    body: BlueprintSpec,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("form", "write"))],
) -> BlueprintOut:
    return await service.save_blueprint(uow, code, body, principal)


@router.get("/blueprints/{blueprint_id}/coverage", response_model=list[CoverageRow])
async def blueprint_coverage(
    blueprint_id: Id, uow: UoW, _: Annotated[object, Depends(require("form", "read"))]
) -> list[CoverageRow]:
    return await service.coverage(uow, blueprint_id)


@router.get(
    "/certifications/{code}/past-papers",
    response_model=list[PastPaperOut] | list[PastPaperSummary],
)
async def past_papers(
    code: Code,
    request: Request,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("catalog", "read"))],
) -> list[PastPaperOut] | list[PastPaperSummary]:
    """Full forms (question ids in order) for those who edit forms; for everyone else only
    what is needed before starting, so that a paper's questions cannot be practised."""
    role = principal.role if principal else "anonymous"
    if allowed(request.app.state.enforcer, role, "form", "read"):
        return await service.past_papers(uow, code)
    return await service.past_paper_summaries(uow, code)


@router.put("/certifications/{code}/past-papers", response_model=PastPaperOut)
async def save_past_paper(
    code: Code,
    body: PastPaperSpec,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("form", "write"))],
) -> PastPaperOut:
    return await service.save_past_paper(uow, code, body, principal)


@router.get("/questions", response_model=QuestionPage)
async def questions(
    uow: UoW,
    _: Annotated[object, Depends(require("question", "read"))],
    q: Annotated[str | None, Query(max_length=200, description="full-text query")] = None,
    certification: Code | None = None,
    subject: Code | None = None,
    topic: Code | None = None,
    tag: Tag | None = None,
    status: QuestionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> QuestionPage:
    items = await service.find_questions(
        uow,
        query=q,
        certification_code=certification,
        subject_code=subject,
        topic_code=topic,
        tag=tag,
        status=status,
        limit=limit,
        offset=offset,
    )
    return QuestionPage(items=items, limit=limit, offset=offset)


@router.post("/certifications/{code}/questions", response_model=QuestionOut, status_code=201)
async def create_question(
    code: Code,
    body: QuestionIn,
    request: Request,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("question", "write"))],
) -> QuestionOut:
    return await service.create_question(uow, storage(request), code, body.draft(), principal)


@router.get("/questions/{question_id}", response_model=QuestionOut)
async def question(
    question_id: Id, uow: UoW, _: Annotated[object, Depends(require("question", "read"))]
) -> QuestionOut:
    return await service.get_question(uow, question_id)


@router.put("/questions/{question_id}", response_model=QuestionOut)
async def edit_question(
    question_id: Id,
    body: QuestionEdit,
    request: Request,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("question", "write"))],
) -> QuestionOut:
    return await service.edit_question(
        uow,
        storage(request),
        question_id,
        QuestionIn.model_validate(body.model_dump(exclude={"expected_version", "note"})).draft(),
        principal,
        note=body.note,
        expected_version=body.expected_version,
    )


@router.get("/questions/{question_id}/versions", response_model=list[VersionOut])
async def question_versions(
    question_id: Id, uow: UoW, _: Annotated[object, Depends(require("question", "read"))]
) -> list[VersionOut]:
    return await service.question_versions(uow, question_id)


@router.get("/questions/{question_id}/versions/{number}", response_model=VersionOut)
async def question_version(
    question_id: Id,
    number: Annotated[int, Path(ge=1, le=INT32_MAX)],
    uow: UoW,
    _: Annotated[object, Depends(require("question", "read"))],
) -> VersionOut:
    return await service.question_version(uow, question_id, number)


@router.post("/questions/status", response_model=list[QuestionOut])
async def change_status(
    body: StatusChange,
    request: Request,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("question", "publish"))],
) -> list[QuestionOut]:
    return await service.set_status(
        uow,
        body.question_ids,
        body.status,
        principal,
        two_person_rule=request.app.state.settings.content_two_person_rule,
    )


@router.post("/certifications/{code}/import", response_model=ImportSummary)
async def import_file(
    code: Code,
    request: Request,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("import", "run"))],
    file: Annotated[UploadFile, File(description="the file to import")],
    format: Annotated[str, Form(max_length=32)],
    name: Annotated[str | None, Form(max_length=NAME_LENGTH)] = None,
    map: Annotated[str | None, Form(max_length=TEXT_LENGTH, description="CSV column map")] = None,
    status: Annotated[Literal["draft", "review", "published"], Form()] = "draft",
    dry_run: Annotated[bool, Form()] = False,
    skip_invalid: Annotated[bool, Form()] = False,
) -> ImportSummary:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Invalid("The file is larger than 200 MB.")
    try:
        # Parsing is CPU-bound; a thread keeps the server answering meanwhile.
        parsed = await asyncio.to_thread(
            registry.read, format, data, registry.ReadOptions(mapping=map)
        )
    except ImportFormatError as exc:
        raise unreadable_file(file.filename, exc) from exc
    return await service.import_drafts(
        uow,
        storage(request),
        code,
        parsed.drafts,
        parse_errors=parsed.errors,
        certification_name=name,
        status=QuestionStatus(status),
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        actor=principal,
        source_name=file.filename or "",
        two_person_rule=request.app.state.settings.content_two_person_rule,
    )


@router.get("/certifications/{code}/export")
async def export(
    code: Code,
    request: Request,
    uow: UoW,
    _: Annotated[object, Depends(require("export", "run"))],
    format: Literal["gift", "moodle-xml", "qti21", "csv", "aiken"] = "gift",
    status: QuestionStatus | None = None,
) -> Response:
    drafts = await service.export_drafts(uow, storage(request), code, status)
    try:
        data = registry.write(format, drafts)
    except (ImportFormatError, ValueError) as exc:
        raise Invalid(str(exc)) from exc
    fmt = registry.get_format(format)
    return Response(
        data,
        media_type=fmt.media_type,
        headers=attachment_headers(f"{code}.{fmt.extension}"),
    )


@router.get("/certifications/{code}/media/{filename}")
async def media(
    code: Code,
    filename: Name,
    request: Request,
    uow: UoW,
    _: Annotated[object, Depends(require("catalog", "read"))],
) -> Response:
    _, digest = await service.media_file(uow, code, filename)
    data = storage(request).get(digest)
    # The type comes from the bytes on every request, not from the stored row: files kept
    # from before imports were checked are judged the same way.
    kind, headers = served(data, filename)
    return Response(
        data,
        media_type=kind,
        headers={**headers, "cache-control": "public, max-age=86400, immutable"},
    )


# Direct uploads to S3 and download URLs (ADR 0022) live beside, under the same prefix.
router.include_router(uploads_router)
