"""Every number and string the API takes is bounded, and bodies are capped before they are
read: declared sizes at once, chunked bodies as they stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from certplatform.kernel.bodylimit import BodyLimit
from certplatform.kernel.bounds import form_int
from certplatform.kernel.db import Database
from tests.support.accounts import bearer

# Uploaded files are bounded by the upload body cap, not by a schema length.
UNBOUNDED_BY_SCHEMA = {"Body_import_file_api_v1_certifications__code__import_post.file"}


def _unbounded(spec: dict[str, Any]) -> list[str]:
    components = spec["components"]["schemas"]
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], name, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in schema.get(key, []):
                walk(sub, where, seen)
        kind = schema.get("type")
        if kind == "integer" and "maximum" not in schema:
            found.append(f"{where}: integer without maximum")
        if kind == "string" and not ({"maxLength", "enum", "const", "format"} & schema.keys()):
            found.append(f"{where}: string without maxLength")
        if kind == "array":
            if "maxItems" not in schema and "prefixItems" not in schema:
                found.append(f"{where}: array without maxItems")
            if "items" in schema:
                walk(schema["items"], f"{where}[]", seen)
        extra = schema.get("additionalProperties")
        if kind == "object" and isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.append(f"{where}: object without maxProperties")
            walk(extra, f"{where}{{}}", seen)
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{where}.{name}", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                walk(parameter["schema"], where, frozenset())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method.upper()} {path} body", frozenset())
    return sorted(set(found) - {f"{u}: string without maxLength" for u in UNBOUNDED_BY_SCHEMA})


def test_every_number_string_and_list_the_api_takes_is_bounded(app: FastAPI) -> None:
    assert _unbounded(app.openapi()) == []


def test_the_schema_walk_sees_what_is_unbounded() -> None:
    spec = {
        "components": {"schemas": {"B": {"properties": {"n": {"type": "integer"}}}}},
        "paths": {
            "/x/{s}": {
                "post": {
                    "parameters": [{"in": "path", "name": "s", "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/c/B"}}}},
                }
            }
        },
    }
    assert _unbounded(spec) == [
        "B.n: integer without maximum",
        "POST /x/{s} path s: string without maxLength",
    ]


class Recorder:
    """An application that reads the whole body and says how much it got."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


async def test_a_declared_oversize_body_is_refused_without_calling_the_app() -> None:
    inner = Recorder()
    limited = BodyLimit(inner, default=1000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="http://test"
    ) as http:
        small = await http.post("/x", content=b"a" * 1000)
        assert (small.status_code, small.text) == (200, "1000")
        inner.called = False
        big = await http.post("/x", content=b"a" * 1001)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "too_large"
    assert not inner.called


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"a" * size


async def test_a_chunked_body_is_cut_off_where_it_crosses_the_cap() -> None:
    seen: list[Message] = []
    inner = Recorder()

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy() -> Message:
            message = await receive()
            seen.append(message)
            return message

        await inner(scope, spy, send)

    limited = BodyLimit(counting, default=1000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="http://test"
    ) as http:
        reply = await http.post("/x", content=_chunks(100, 300))
    assert reply.status_code == 413
    # The fourth chunk crossed the cap; the other 96 were never taken from the client.
    assert len(seen) == 3


async def test_the_app_caps_json_bodies_and_lets_uploads_reach_their_own_limit(
    client: httpx.AsyncClient, db: Database
) -> None:
    declared = await client.post(
        "/api/v1/auth/token",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(2 * 1024 * 1024)},
    )
    assert declared.status_code == 413
    assert "1 MB" in declared.json()["error"]["message"]

    chunked = await client.post(
        "/api/v1/auth/token",
        content=_chunks(40, 64 * 1024),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413

    author = await bearer(client, db, "author")
    aiken = "Which is right?\nA. this\nB. that\nANSWER: A\n" + "\n" * (3 * 1024 * 1024)
    upload = await client.post(
        "/api/v1/certifications/KR-A/import",
        headers=author,
        files={"file": ("q.txt", aiken.encode())},
        data={"format": "aiken"},
    )
    assert upload.status_code == 200, upload.text
    assert json.loads(upload.text)["created"] == 1


def test_form_numbers_are_read_only_when_int_can_read_them() -> None:
    assert form_int("12") == 12
    assert form_int(" 7 ") == 7
    assert form_int("²") is None  # str.isdigit() says yes, int() says no
    assert form_int("9" * 5000) is None
    assert form_int(str(2**31)) is None
    assert form_int("-1") is None


async def test_page_numbers_that_are_not_numbers_show_the_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    author = await bearer(client, db, "author")
    aiken = "Which is right?\nA. this\nB. that\nANSWER: A\n"
    imported = await client.post(
        "/api/v1/certifications/KR-A/import",
        headers=author,
        files={"file": ("q.txt", aiken.encode())},
        data={"format": "aiken"},
    )
    assert imported.status_code == 200, imported.text
    [question] = (await client.get("/api/v1/questions", headers=author)).json()["items"]
    for a, b in (("²", "1"), ("1", "9" * 30), ("٣", "")):
        page = await client.get(
            f"/admin/questions/{question['id']}/versions",
            params={"a": a, "b": b},
            headers=author,
        )
        assert page.status_code == 200, (a, b, page.status_code)
