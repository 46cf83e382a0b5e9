"""Explanations name the choices as the learner saw them, whatever order an exam showed."""

from __future__ import annotations

import re

import httpx

from certplatform.content import service as content
from certplatform.content.contracts import Choice, QuestionContent, QuestionType
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.display import explanation
from tests.support.accounts import bearer
from tests.support.exams import blueprint_id, load

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


def _question(text: str) -> QuestionContent:
    return QuestionContent(
        type=QuestionType.SINGLE_CHOICE,
        stem="해시 테이블에 저장되는 위치는?",
        choices=tuple(
            Choice(id=cid, text=f"보기 {cid}", weight=1.0 if cid == "B" else 0.0) for cid in "ABCD"
        ),
        explanation=text,
    )


def test_references_follow_the_shown_order() -> None:
    q = _question("①은 전위, ②가 정답이다. 보기 4는 틀렸고 정답은 2번이다. 15가 1번에 저장된다.")
    # Shown as C, A, D, B: A is ②, B is ④, C is ①, D is ③.
    assert explanation(q, ["C", "A", "D", "B"]) == (
        "②은 전위, ④가 정답이다. 보기 3는 틀렸고 정답은 4번이다. 15가 1번에 저장된다."
    )


def test_an_unshuffled_or_choiceless_question_keeps_its_text() -> None:
    q = _question("②가 정답이다.")
    assert explanation(q, ["A", "B", "C", "D"]) == "②가 정답이다."
    assert explanation(q, []) == "②가 정답이다."


async def test_review_explanations_name_the_choices_as_shown(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    learner = await bearer(client, db)
    started = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": await blueprint_id(db, "KR-INFO-ENGINEER")},
        headers=learner,
    )
    attempt = started.json()["id"]
    await client.post(f"/api/v1/attempts/{attempt}/submit", headers=learner)
    review = (await client.get(f"/api/v1/attempts/{attempt}/review", headers=learner)).json()
    async with db.transaction() as uow:
        stored = await content.current_versions(
            uow, [i["question"]["question_id"] for i in review["items"]]
        )
    checked = moved = 0
    for item in review["items"]:
        original = stored[item["question"]["question_id"]].content
        refs = re.findall(f"[{CIRCLED}]", original.explanation)
        if not refs:
            continue
        # The choice each reference meant, and the choice it now points at on screen.
        meant = [original.choices[CIRCLED.index(r)].text for r in refs]
        shown = item["question"]["choices"]
        pointed = [
            shown[CIRCLED.index(r)]["text"] for r in re.findall(f"[{CIRCLED}]", item["explanation"])
        ]
        assert pointed == meant, item["explanation"]
        checked += 1
        moved += item["explanation"] != original.explanation
    # The exam draws 100 of 144 questions and shuffles their choices: several such
    # explanations appear, and most of them in a changed order.
    assert checked >= 3
    assert moved >= 1
