"""Helpers for exam tests: load demo certifications, start attempts, answer by the key."""

from __future__ import annotations

from typing import Any

import httpx

from certplatform.content import service as content
from certplatform.demo import load_certifications
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage


async def load(db: Database, storage: LocalStorage, *codes: str) -> None:
    await load_certifications(db, storage, set(codes))


async def blueprint_id(db: Database, certification: str) -> str:
    async with db.transaction() as uow:
        return (await content.blueprints(uow, certification))[0].id


async def keys_of(db: Database, view: dict[str, Any]) -> dict[int, list[str]]:
    """The display keys of the right choices of each item, looked up on the server side."""
    async with db.transaction() as uow:
        versions = await content.current_versions(
            uow, [i["question"]["question_id"] for i in view["items"]]
        )
    keys: dict[int, list[str]] = {}
    for item in view["items"]:
        version = versions[item["question"]["question_id"]]
        right = {c.text for c in version.content.choices if c.weight > 0}
        keys[item["position"]] = [
            c["label"] for c in item["question"]["choices"] if c["text"] in right
        ]
    return keys


def wrong_key(item: dict[str, Any], right: list[str]) -> str:
    return next(c["label"] for c in item["question"]["choices"] if c["label"] not in right)


async def save(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    attempt: str,
    position: int,
    choice: str,
    seq: int = 1,
    op: str | None = None,
) -> httpx.Response:
    return await client.put(
        f"/api/v1/attempts/{attempt}/answers/{position}",
        json={
            "op_id": op or f"op-{position}-{seq}",
            "op_seq": seq,
            "answer": {"choices": [choice]},
        },
        headers=headers,
    )
