"""Helpers for community tests: a tiny published certification with a one-section paper."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from certplatform.content import service as content
from certplatform.content.contracts import (
    PaperItemSpec,
    PassMode,
    PassRule,
    PastPaperSpec,
    QuestionStatus,
)
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.support.content import choice_question

CERT = "T-COMMUNITY"


@dataclass(frozen=True)
class Bank:
    in_paper: str  # a published question that the paper shows
    elsewhere: str  # a published question that is in no paper
    paper: str


async def bank(db: Database, storage: LocalStorage) -> Bank:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, CERT, "Community test")
        ids = []
        for n, stem in enumerate(("옴의 법칙에서 V는?", "전력 P의 단위는?"), start=1):
            draft = choice_question(stem, ("I×R", "I/R", "R/I", "I+R"), external_id=f"C{n}")
            ids.append((await content.create_question(uow, storage, CERT, draft, None)).id)
        await content.set_status(uow, ids, QuestionStatus.REVIEW, None)
        await content.set_status(uow, ids, QuestionStatus.PUBLISHED, None)
        paper = await content.save_past_paper(
            uow,
            CERT,
            PastPaperSpec(
                code="P1",
                name="Paper 1",
                time_limit_minutes=60,
                pass_rule=PassRule(mode=PassMode.PERCENT, threshold=60),
                items=(PaperItemSpec(question_id=ids[0], section_code="S1", section_name="S1"),),
            ),
            None,
        )
    return Bank(in_paper=ids[0], elsewhere=ids[1], paper=paper.id)


async def start_paper(client: httpx.AsyncClient, headers: dict[str, str], paper: str) -> str:
    reply = await client.post("/api/v1/attempts", json={"paper_id": paper}, headers=headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


async def comment(
    client: httpx.AsyncClient, headers: dict[str, str], question: str, body: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/questions/{question}/discussion/comments", json={"body": body}, headers=headers
    )
