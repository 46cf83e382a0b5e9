"""Media uploads straight to S3 and presigned download URLs (ADR 0022).

1. `POST .../media/uploads` gives the browser a presigned POST form: one object under
   `uploads/`, at most 5 MB, of the image type it declares.
2. The browser posts the file to the bucket.
3. `POST .../media/uploads/{id}` takes the object back, checks its size and sniffs its bytes
   exactly as the editor's upload does (images only, ADR 0010); only then is it stored as a
   certification's media file, under its hash, with the sniffed type. A file that is not an
   image is refused and deleted: nothing it contains is ever served.

With media on the local disk there is no bucket to upload to (409); the editor's upload
through the app does the same job there.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from certplatform.content import service
from certplatform.kernel.auth import Principal, UoW, require
from certplatform.kernel.bounds import NAME_LENGTH, Code, Id, Name
from certplatform.kernel.errors import Conflict, Invalid, NotFound
from certplatform.kernel.s3 import S3Storage, UploadTooLarge
from certplatform.kernel.storage import LocalStorage

router = APIRouter()
UPLOAD_SECONDS = 600
DOWNLOAD_SECONDS = 300
ImageType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class UploadRequest(BaseModel):
    content_type: ImageType


class UploadForm(BaseModel):
    upload_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in: int


class UploadConfirm(BaseModel):
    filename: str = Field(min_length=1, max_length=NAME_LENGTH)


class StoredMedia(BaseModel):
    filename: str
    markdown: str


class MediaUrl(BaseModel):
    url: str
    expires_in: int | None


def _bucket(request: Request) -> S3Storage:
    store: LocalStorage = request.app.state.storage
    if not isinstance(store, S3Storage):
        raise Conflict("Direct uploads need S3 storage; upload through the question editor.")
    return store


@router.post("/certifications/{code}/media/uploads", response_model=UploadForm, status_code=201)
async def start_upload(
    code: Code,
    body: UploadRequest,
    request: Request,
    uow: UoW,
    _: Annotated[Principal | None, Depends(require("media", "write"))],
) -> dict[str, Any]:
    bucket = _bucket(request)
    await service.certification_detail(uow, code)  # 404 before any form is signed
    form = await asyncio.to_thread(
        bucket.presigned_upload, body.content_type, service.MAX_MEDIA, UPLOAD_SECONDS
    )
    return {**form, "max_bytes": service.MAX_MEDIA, "expires_in": UPLOAD_SECONDS}


@router.post(
    "/certifications/{code}/media/uploads/{upload_id}", response_model=StoredMedia, status_code=201
)
async def finish_upload(
    code: Code,
    upload_id: Id,
    body: UploadConfirm,
    request: Request,
    uow: UoW,
    _: Annotated[Principal | None, Depends(require("media", "write"))],
) -> StoredMedia:
    bucket = _bucket(request)
    await service.certification_detail(uow, code)
    try:
        data = await asyncio.to_thread(bucket.take_upload, upload_id, service.MAX_MEDIA)
    except FileNotFoundError as exc:
        raise NotFound("No such upload, or it was already used.") from exc
    except UploadTooLarge as exc:
        raise Invalid("The image is larger than 5 MB.") from exc
    name = await service.store_media(uow, bucket, code, body.filename, "", data)
    return StoredMedia(filename=name, markdown=f"![image](media:{name})")


@router.get("/certifications/{code}/media/{filename}/url", response_model=MediaUrl)
async def media_url(
    code: Code,
    filename: Name,
    request: Request,
    uow: UoW,
    _: Annotated[Principal | None, Depends(require("catalog", "read"))],
) -> MediaUrl:
    """Where to fetch a media file: a short-lived presigned URL on S3, the app's own media
    route on the local disk."""
    _type, digest = await service.media_file(uow, code, filename)
    store: LocalStorage = request.app.state.storage
    if isinstance(store, S3Storage):
        url = await asyncio.to_thread(store.download_url, digest, filename, DOWNLOAD_SECONDS)
        return MediaUrl(url=url, expires_in=DOWNLOAD_SECONDS)
    path = f"/api/v1/certifications/{quote(code, safe='')}/media/{quote(filename, safe='')}"
    return MediaUrl(url=path, expires_in=None)
