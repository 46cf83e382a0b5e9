"""Media on S3 (ADR 0022), against a real S3 API server (moto's server mode): presigned
uploads become media only after their bytes are sniffed; presigned downloads; journals."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from certplatform.app import create_app
from certplatform.content import service
from certplatform.kernel.db import Database
from certplatform.kernel.s3 import S3Storage
from certplatform.kernel.settings import Settings
from tests.support.accounts import bearer
from tests.support.s3 import s3_server

CERT = "S3-MEDIA"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest_asyncio.fixture
async def s3_app(settings: Settings, endpoint: str, db: Database) -> AsyncIterator[FastAPI]:
    shaped = settings.model_copy(
        update={
            "s3_endpoint": endpoint,
            "s3_access_key": "test-key",
            "s3_secret_key": "test-secret",
            "s3_bucket": f"media-{os.getpid()}",
        }
    )
    app = create_app(shaped)
    async with app.router.lifespan_context(app):
        async with db.transaction() as uow:
            await service.ensure_certification(uow, CERT, "S3 media")
        yield app


@pytest_asyncio.fixture
async def api(s3_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=s3_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def bucket(app: FastAPI) -> S3Storage:
    store = app.state.storage
    assert isinstance(store, S3Storage)
    return store


async def upload(api: httpx.AsyncClient, auth: dict[str, str], data: bytes) -> str:
    """The browser's part: ask for a form, post the file to the bucket; the upload id."""
    form = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads",
        json={"content_type": "image/png"},
        headers=auth,
    )
    assert form.status_code == 201, form.text
    body = form.json()
    async with httpx.AsyncClient() as browser:
        posted = await browser.post(
            body["url"], data=body["fields"], files={"file": ("x.png", data, "image/png")}
        )
    assert posted.status_code in (200, 201, 204), posted.text
    upload_id: str = body["upload_id"]
    return upload_id


async def test_a_presigned_upload_becomes_media_after_its_bytes_are_checked(
    s3_app: FastAPI, api: httpx.AsyncClient, db: Database
) -> None:
    auth = await bearer(api, db, "author")
    form = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads",
        json={"content_type": "image/png"},
        headers=auth,
    )
    assert form.status_code == 201
    policy = json.loads(base64.b64decode(form.json()["fields"]["policy"]))
    # The bucket is told the limits: the size range and the one declared type.
    assert ["content-length-range", 1, service.MAX_MEDIA] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]

    upload_id = await upload(api, auth, PNG)
    done = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads/{upload_id}",
        json={"filename": "figure.png"},
        headers=auth,
    )
    assert done.status_code == 201, done.text
    assert done.json() == {"filename": "figure.png", "markdown": "![image](media:figure.png)"}
    digest = hashlib.sha256(PNG).hexdigest()
    head = bucket(s3_app).client.head_object(
        Bucket=bucket(s3_app).bucket, Key=f"media/{digest[:2]}/{digest}"
    )
    assert head["ContentType"] == "image/png"
    # The upload is taken once: its object is gone from uploads/.
    again = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads/{upload_id}",
        json={"filename": "figure.png"},
        headers=auth,
    )
    assert again.status_code == 404

    # Served through the app with the sandbox headers, and by a presigned URL.
    served = await api.get(f"/api/v1/certifications/{CERT}/media/figure.png")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["x-content-type-options"] == "nosniff"
    link = await api.get(f"/api/v1/certifications/{CERT}/media/figure.png/url")
    assert link.status_code == 200
    assert link.json()["expires_in"] == 300
    async with httpx.AsyncClient() as browser:
        fetched = await browser.get(link.json()["url"])
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["content-disposition"] == "inline"


async def test_an_upload_that_is_not_an_image_is_refused_and_removed(
    s3_app: FastAPI, api: httpx.AsyncClient, db: Database
) -> None:
    auth = await bearer(api, db, "author")
    upload_id = await upload(api, auth, HTML)  # declared image/png, bytes say otherwise
    refused = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads/{upload_id}",
        json={"filename": "page.png"},
        headers=auth,
    )
    assert refused.status_code == 422
    assert "not a PNG, JPEG, GIF or WebP image" in refused.json()["error"]["message"]
    store = bucket(s3_app)
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix="uploads/")
    assert listed.get("KeyCount", 0) == 0
    assert (await api.get(f"/api/v1/certifications/{CERT}/media/page.png")).status_code == 404


async def test_an_upload_over_the_limit_is_refused_even_if_the_bucket_took_it(
    s3_app: FastAPI, api: httpx.AsyncClient, db: Database
) -> None:
    # moto does not enforce POST policies; a real S3 or MinIO refuses this upload itself.
    auth = await bearer(api, db, "author")
    upload_id = await upload(api, auth, PNG + b"\x00" * service.MAX_MEDIA)
    refused = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads/{upload_id}",
        json={"filename": "huge.png"},
        headers=auth,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "The image is larger than 5 MB."
    assert (await api.get(f"/api/v1/certifications/{CERT}/media/huge.png")).status_code == 404


async def test_uploads_need_the_media_permission(api: httpx.AsyncClient, db: Database) -> None:
    learner = await bearer(api, db, "learner")
    form = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads",
        json={"content_type": "image/png"},
        headers=learner,
    )
    assert form.status_code == 403
    declared = await api.post(
        f"/api/v1/certifications/{CERT}/media/uploads",
        json={"content_type": "text/html"},
        headers=await bearer(api, db, "author"),
    )
    assert declared.status_code == 422


async def test_direct_uploads_need_s3(client: httpx.AsyncClient, db: Database) -> None:
    auth = await bearer(client, db, "author")
    async with db.transaction() as uow:
        await service.ensure_certification(uow, CERT, "S3 media")
    form = await client.post(
        f"/api/v1/certifications/{CERT}/media/uploads",
        json={"content_type": "image/png"},
        headers=auth,
    )
    assert form.status_code == 409


async def test_journals_on_s3_keep_their_lines_in_order(s3_app: FastAPI) -> None:
    store = bucket(s3_app)
    for number in range(5):
        store.append_line("audit/checkpoints-test.jsonl", json.dumps({"n": number}))
    assert [json.loads(line)["n"] for line in store.read_lines("audit/checkpoints-test.jsonl")] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert store.read_lines("audit/none-yet.jsonl") == []
    with pytest.raises(ValueError, match="line break"):
        store.append_line("audit/checkpoints-test.jsonl", "a\nb")


def test_content_addressed_objects(tmp_path: Path, endpoint: str) -> None:
    store = S3Storage(endpoint, "k", "s", f"plain-{os.getpid()}", scratch=tmp_path)
    digest = store.put(HTML)
    assert store.put(HTML) == digest  # the same bytes twice are one object
    assert store.get(digest) == HTML
    assert store.exists(digest)
    head = store.client.head_object(Bucket=store.bucket, Key=f"media/{digest[:2]}/{digest}")
    assert head["ContentType"] == "application/octet-stream"  # not media: never inline
    assert head["ContentDisposition"] == "attachment"
    assert not store.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        store.get("0" * 64)
