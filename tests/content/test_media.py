"""Files that arrive with questions can never run script on the app's origin: imports take
only images, audio and video recognised from their bytes, and every stored file is served
with the type its bytes have now, sandboxed."""

from __future__ import annotations

import base64
import struct
import zlib

import httpx
import pytest

from certplatform.content import repository as repo
from certplatform.content import service
from certplatform.content.contracts import (
    Choice,
    Media,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)
from certplatform.content.formats import qti21
from certplatform.content.models import MediaFile
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.errors import Invalid
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import bearer
from tests.support.content import choice_question

SANDBOX = "sandbox; default-src 'none'"
HTML = b"<!DOCTYPE html><script>fetch('/api/v1/users/me/role', {method: 'PUT'})</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
JS = b"fetch('/api/v1/users', {method: 'POST', body: '{\"role\": \"admin\"}'})"


def _png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = _png()


def _moodle(files: list[tuple[str, bytes]]) -> bytes:
    embedded = "".join(
        f'<file name="{name}" path="/" encoding="base64">{base64.b64encode(data).decode()}</file>'
        for name, data in files
    )
    images = "".join(f'<img src="@@PLUGINFILE@@/{name}">' for name, _ in files)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="multichoice">
    <name><text>Figure</text></name>
    <questiontext format="html">
      <text><![CDATA[<p>Which one?</p>{images}]]></text>
      {embedded}
    </questiontext>
    <idnumber>FIG-1</idnumber>
    <single>true</single>
    <answer fraction="100"><text>One</text></answer>
    <answer fraction="0"><text>Two</text></answer>
  </question>
</quiz>""".encode()


def _qti(files: list[tuple[str, bytes]]) -> bytes:
    draft = QuestionDraft(
        content=QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem="Which one?\n\n" + "\n".join(f"![figure](media:{name})" for name, _ in files),
            choices=(Choice(id="A", text="One", weight=1.0), Choice(id="B", text="Two")),
        ),
        external_id="FIG-1",
        media=tuple(Media(filename=n, content_type="image/png", data=d) for n, d in files),
    )
    return qti21.dump([draft])


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], fmt: str, data: bytes
) -> httpx.Response:
    return await client.post(
        "/api/v1/certifications/KR-FIG/import",
        headers=headers,
        files={"file": ("upload", data)},
        data={"format": fmt},
    )


BUILDERS = {"moodle-xml": _moodle, "qti21": _qti}
HOSTILE = [
    ("page.html", HTML),
    ("logo.svg", SVG),
    ("app.js", JS),
    ("figure.png", HTML),  # a friendly name does not make HTML an image
]


@pytest.mark.parametrize("fmt", BUILDERS)
@pytest.mark.parametrize(("name", "data"), HOSTILE)
async def test_an_import_with_a_file_that_is_not_media_is_refused_naming_it(
    client: httpx.AsyncClient, db: Database, fmt: str, name: str, data: bytes
) -> None:
    author = await bearer(client, db, "author")
    reply = await _import(client, author, fmt, BUILDERS[fmt]([("ok.png", PNG), (name, data)]))
    assert reply.status_code == 422, reply.text
    [error] = reply.json()["error"]["details"]["errors"]
    assert f"'{name}'" in error
    assert "not an image, audio or video file" in error
    # All or nothing: not even the good figure or the certification was written.
    assert (await client.get("/api/v1/certifications")).json() == []
    async with db.transaction() as uow:
        assert await repo.certification_by_code(uow.session, "KR-FIG") is None


@pytest.mark.parametrize("fmt", BUILDERS)
async def test_an_imported_png_is_served_inline_as_png_and_sandboxed(
    client: httpx.AsyncClient, db: Database, fmt: str
) -> None:
    author = await bearer(client, db, "author")
    reply = await _import(client, author, fmt, BUILDERS[fmt]([("chart.png", PNG)]))
    assert reply.status_code == 200, reply.text
    assert reply.json()["created"] == 1
    served = await client.get("/api/v1/certifications/KR-FIG/media/chart.png", headers=author)
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == SANDBOX
    assert served.headers["content-disposition"] == "inline"


async def _stored_before_the_check(
    db: Database, storage: LocalStorage, files: list[tuple[str, str, bytes]]
) -> None:
    """Rows as the import wrote them before files were checked: named and typed by name."""
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-OLD", [choice_question("문항")])
        cert = await repo.certification_by_code(uow.session, "KR-OLD")
        assert cert is not None
        for filename, claimed, data in files:
            uow.session.add(
                MediaFile(
                    certification_id=cert.id,
                    filename=filename,
                    content_type=claimed,
                    sha256=storage.put(data),
                    size=len(data),
                    created_at=utcnow(),
                )
            )


async def test_stored_files_are_served_with_the_type_of_their_bytes(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await _stored_before_the_check(
        db,
        storage,
        [
            ("page.html", "text/html", HTML),
            ("logo.svg", "image/svg+xml", SVG),
            ("app.js", "text/javascript", JS),
            ("figure.png", "image/png", HTML),
            ("picture.html", "text/html", PNG),
        ],
    )
    learner = await bearer(client, db, "learner")
    for name, data in [
        ("page.html", HTML),
        ("logo.svg", SVG),
        ("app.js", JS),
        ("figure.png", HTML),
    ]:
        served = await client.get(f"/api/v1/certifications/KR-OLD/media/{name}", headers=learner)
        assert served.status_code == 200
        assert served.content == data
        assert served.headers["content-type"] == "application/octet-stream", name
        assert served.headers["content-disposition"].startswith("attachment;"), name
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == SANDBOX

    picture = await client.get("/api/v1/certifications/KR-OLD/media/picture.html", headers=learner)
    assert picture.headers["content-type"] == "image/png"
    assert picture.headers["content-disposition"] == "inline"
    assert picture.headers["content-security-policy"] == SANDBOX


async def test_the_stored_type_is_the_sniffed_one_not_the_claimed_one(
    db: Database, storage: LocalStorage
) -> None:
    draft = choice_question("그림", external_id="Q1").model_copy(
        update={"media": (Media(filename="chart.gif", content_type="text/html", data=PNG),)}
    )
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-X", [draft])
        kind, _ = await service.media_file(uow, "KR-X", "chart.gif")
    assert kind == "image/png"


async def test_editing_a_question_with_a_script_attached_is_refused(
    db: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        await service.import_drafts(
            uow, storage, "KR-X", [choice_question("문항", external_id="Q1")]
        )
        [question] = await service.find_questions(uow, certification_code="KR-X")
    hostile = choice_question("문항 2", external_id="Q1").model_copy(
        update={"media": (Media(filename="x.svg", content_type="image/svg+xml", data=SVG),)}
    )
    with pytest.raises(Invalid, match=r"'x\.svg' is not an image, audio or video file"):
        async with db.transaction() as uow:
            await service.edit_question(uow, storage, question.id, hostile, None)
    with pytest.raises(Invalid, match=r"'x\.svg'"):
        async with db.transaction() as uow:
            await service.create_question(uow, storage, "KR-X", hostile, None)
    async with db.transaction() as uow:
        [after] = await service.find_questions(uow, certification_code="KR-X")
    assert after.version.number == 1


async def test_exports_are_sandboxed_downloads(client: httpx.AsyncClient, db: Database) -> None:
    author = await bearer(client, db, "author")
    assert (await _import(client, author, "moodle-xml", _moodle([]))).status_code == 200
    exported = await client.get(
        "/api/v1/certifications/KR-FIG/export", params={"format": "csv"}, headers=author
    )
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith('attachment; filename="KR-FIG.csv"')
    assert exported.headers["x-content-type-options"] == "nosniff"
    assert exported.headers["content-security-policy"] == SANDBOX


async def test_the_admin_page_export_is_a_sandboxed_download(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    assert (await _import(client, author, "moodle-xml", _moodle([]))).status_code == 200
    exported = await client.get(
        "/admin/export", params={"certification": "KR-FIG", "format": "csv"}, headers=author
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].startswith('attachment; filename="KR-FIG.csv"')
    assert exported.headers["x-content-type-options"] == "nosniff"
    assert exported.headers["content-security-policy"] == SANDBOX


async def test_the_editor_upload_takes_only_images_by_their_bytes(
    db: Database, storage: LocalStorage
) -> None:
    async with db.transaction() as uow:
        await service.import_drafts(uow, storage, "KR-X", [choice_question("문항")])
    for filename, data in [("logo.svg", SVG), ("figure.png", HTML), ("song.mp3", b"ID3\x04")]:
        with pytest.raises(Invalid, match="is not a PNG, JPEG, GIF or WebP image"):
            async with db.transaction() as uow:
                await service.store_media(uow, storage, "KR-X", filename, "image/png", data)
    async with db.transaction() as uow:
        name = await service.store_media(uow, storage, "KR-X", "chart.svg", "image/svg+xml", PNG)
        kind, _ = await service.media_file(uow, "KR-X", name)
    assert (name, kind) == ("chart.png", "image/png")
