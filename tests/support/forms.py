"""A small past paper sat by a dozen learners with a planted answer pattern (item
statistics per exam form)."""

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
from tests.support.accounts import PASSWORD, make_user
from tests.support.content import choice_question

CERT = "T-FORMS"
TEXTS = ("V = IR", "V = I/R", "V = R/I", "V = I + R")  # the first is the key
LEARNERS = 12
# Learner s (skill s) answers question j: right when s >= THRESHOLD[j]; "reversed" is right
# for the weak (s < 6) while the strong pick the second distractor.
THRESHOLD = (2, 4, 6, 8, None, 1)


@dataclass(frozen=True)
class SatPaper:
    paper: str
    questions: list[str]  # in paper order
    right: list[list[bool | None]]  # learner × question; None = left blank


def planted(s: int, j: int) -> bool | None:
    if s == 1 and j == 3:
        return None
    threshold = THRESHOLD[j]
    return s < 6 if threshold is None else s >= threshold


async def sit_paper(client: httpx.AsyncClient, db: Database, storage: LocalStorage) -> SatPaper:
    async with db.transaction() as uow:
        await content.ensure_certification(uow, CERT, "Form statistics")
        ids = []
        for n in range(len(THRESHOLD)):
            draft = choice_question(
                f"{n + 1}. 옴의 법칙으로 옳은 것은?", TEXTS, external_id=f"F{n + 1}"
            )
            ids.append((await content.create_question(uow, storage, CERT, draft, None)).id)
        await content.set_status(uow, ids, QuestionStatus.REVIEW, None)
        await content.set_status(uow, ids, QuestionStatus.PUBLISHED, None)
        paper = await content.save_past_paper(
            uow,
            CERT,
            PastPaperSpec(
                code="F1",
                name="2026년 1회 모의",
                time_limit_minutes=60,
                pass_rule=PassRule(mode=PassMode.PERCENT, threshold=60),
                items=tuple(
                    PaperItemSpec(question_id=q, section_code="S1", section_name="1과목")
                    for q in ids
                ),
            ),
            None,
        )
    grid: list[list[bool | None]] = []
    for s in range(LEARNERS):
        learner = await bearer_for(client, db, s)
        started = await client.post(
            "/api/v1/attempts", json={"paper_id": paper.id}, headers=learner
        )
        assert started.status_code == 201, started.text
        view = started.json()
        row: list[bool | None] = [None] * len(ids)
        for item in view["items"]:
            j = ids.index(item["question"]["question_id"])
            right = planted(s, j)
            row[j] = right
            if right is None:
                continue
            want = TEXTS[0] if right else TEXTS[2 if THRESHOLD[j] is None else 1]
            label = next(c["label"] for c in item["question"]["choices"] if c["text"] == want)
            saved = await client.put(
                f"/api/v1/attempts/{view['id']}/answers/{item['position']}",
                json={
                    "op_id": f"op-{item['position']}",
                    "op_seq": 1,
                    "answer": {"choices": [label]},
                    "elapsed_ms": 30_000,  # the server keeps at most the time that passed
                },
                headers=learner,
            )
            assert saved.status_code == 200, saved.text
        done = await client.post(f"/api/v1/attempts/{view['id']}/submit", headers=learner)
        assert done.status_code == 200, done.text
        grid.append(row)
    return SatPaper(paper.id, ids, grid)


async def bearer_for(client: httpx.AsyncClient, db: Database, s: int) -> dict[str, str]:
    email = await make_user(db, "learner", f"form-learner-{s}@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}
