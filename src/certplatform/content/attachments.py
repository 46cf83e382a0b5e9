"""Media attached to questions: stored by content hash, typed by their bytes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from certplatform.content import repository as repo
from certplatform.content.catalog import _certification
from certplatform.content.contracts import (
    Media,
    QuestionDraft,
)
from certplatform.content.models import (
    MediaFile,
)
from certplatform.kernel import media
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import N_, Invalid, NotFound
from certplatform.kernel.storage import LocalStorage


def _store_media(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_id: str,
    files: Sequence[Media],
    existing: dict[str, MediaFile],
) -> None:
    """Store files under their names, typed by their bytes (never by name or claim)."""
    for item in files:
        kind = media.sniff(item.data)
        if kind is None:  # callers check first; this is the last line of defence
            raise not_media(item.filename)
        digest = storage.put(item.data)
        row = existing.get(item.filename)
        if row is None:
            row = MediaFile(
                certification_id=certification_id,
                filename=item.filename,
                content_type=kind,
                sha256=digest,
                size=len(item.data),
                created_at=utcnow(),
            )
            uow.session.add(row)
            existing[item.filename] = row
        elif row.sha256 != digest:
            row.sha256, row.size, row.content_type = digest, len(item.data), kind


def _check_media(draft: QuestionDraft) -> None:
    for item in draft.media:
        if media.sniff(item.data) is None:
            raise not_media(item.filename)


def not_media(filename: str) -> Invalid:
    return Invalid(
        N_(
            "The attached file '%(file)s' is not an image, audio or video file the platform "
            "can show (allowed: %(allowed)s, recognised by their content); HTML, SVG, scripts "
            "and documents cannot be attached."
        ),
        file=filename,
        allowed=media.ALLOWED_DESCRIPTION,
    )


async def _all_media(uow: UnitOfWork, certification_id: str) -> dict[str, MediaFile]:
    return await repo.media_of(uow.session, certification_id)


async def media_file(uow: UnitOfWork, certification_code: str, filename: str) -> tuple[str, str]:
    """(content type, sha256) of a stored media file."""
    cert = await _certification(uow, certification_code)
    found = (await repo.media_by_name(uow.session, cert.id, [filename])).get(filename)
    if found is None:
        raise NotFound(
            N_("No file %(file)s in %(certification)s."),
            file=filename,
            certification=certification_code,
        )
    return found.content_type, found.sha256


# ---- editor helpers: uploaded images, look-ups by external id ----------------------------

MAX_MEDIA = 5 * 1024 * 1024


async def store_media(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    filename: str,
    content_type: str,
    data: bytes,
) -> str:
    """Store an uploaded image for a certification's questions and return the name to refer
    to it by (`![alt](media:NAME)`).

    Only PNG, JPEG, GIF and WebP images (checked from the bytes) up to 5 MB. A name already
    taken by other bytes gets a hash suffix, so questions that show the old file keep it.
    """
    cert = await _certification(uow, certification_code)
    if not data:
        raise Invalid("The file is empty.")
    if len(data) > MAX_MEDIA:
        raise Invalid("The image is larger than 5 MB.")
    kind = media.sniff(data)
    if kind not in media.IMAGE_TYPES:
        raise Invalid(
            N_("%(file)s is not a PNG, JPEG, GIF or WebP image (%(type)s)."),
            file=filename or "?",
            type=content_type or "?",
        )
    base = re.split(r"[\\/]", filename)[-1].rsplit(".", 1)[0]
    base = re.sub(r"[^\w.-]+", "-", base).strip(".-")[:80] or "image"
    name = f"{base}.{media.IMAGE_TYPES[kind]}"
    digest = hashlib.sha256(data).hexdigest()
    existing = await repo.media_by_name(uow.session, cert.id, [name])
    if name in existing and existing[name].sha256 != digest:
        name = f"{base}-{digest[:10]}.{media.IMAGE_TYPES[kind]}"
        existing = await repo.media_by_name(uow.session, cert.id, [name])
    _store_media(
        uow, storage, cert.id, [Media(filename=name, content_type=kind, data=data)], existing
    )
    await uow.session.flush()
    return name
