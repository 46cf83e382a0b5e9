"""Documents too big or too costly to validate are refused up front with an error that names
the limit; operation numbers take Date.now(); production hides the schema."""

from __future__ import annotations

from typing import Any

import httpx

from certplatform.gateway.graphql import build_schema
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from tests.gateway.test_graphql import FCC, SAVE, post, right_labels, start
from tests.support.accounts import bearer
from tests.support.exams import load


async def refused(client: httpx.AsyncClient, query: str, headers: dict[str, str]) -> str:
    reply = await post(client, query, headers=headers)
    body: dict[str, Any] = reply.json()
    assert body.get("data") is None, body
    [problem, *_] = body["errors"]
    message: str = problem["message"]
    return message


async def test_deep_huge_and_aliased_documents_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    learner = await bearer(client, db)

    deep = "{ me { " + "a { " * 12 + "b" + " }" * 12 + " } }"
    assert "exceeds maximum operation depth" in await refused(client, deep, learner)

    huge = "{ me { " + "id " * 68_000 + "} }"  # about 200 KB
    assert len(huge) > 200_000
    assert "at most 32768 are accepted" in await refused(client, huge, learner)

    tokens = "{ me { " + "id " * 5000 + "} }"  # under the size cap, over the token cap
    assert "more than 4000 tokens" in await refused(client, tokens, learner)

    repeated = "{ me { " + "id " * 200 + "} }"
    assert "'id' is selected 200 times" in await refused(client, repeated, learner)

    aliases = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(60)) + " }"
    assert "60 aliases found" in await refused(client, aliases, learner)

    # Each fragment spreads the next twice: 2^30 fields from 30 short lines.
    fanout = (
        "{ me { ...F0 } } "
        + " ".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
        + " fragment F30 on User { id email role displayName }"
    )
    assert "'id' is selected 16 times in one place" in await refused(client, fanout, learner)

    # Forty aliased reviews of every field: under the token cap, over 1,000 fields in all.
    review = (
        "result { attemptId percent passed reasons sections { code percent } } "
        "items { position sectionCode key keyDisplay explanation earned points correct timeMs "
        "question { questionId type stem choices { label text } matchLeft matchRight } "
        "answer { choices value text number pairs { left right } } }"
    )
    wide = "{ " + " ".join(f'r{i}: attemptReview(id: "x") {{ {review} }}' for i in range(40)) + " }"
    too_wide = await refused(client, wide, learner)
    assert "fields (fragments expanded); at most 500 are accepted" in too_wide

    # A real page's document still goes through.
    me = await post(client, "{ me { id email } }", headers=learner)
    assert me.json()["data"]["me"]["email"].endswith("@example.com")


async def test_operation_numbers_take_date_now_and_stop_at_64_bits(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    view = await start(client, learner, FCC)
    label = (await right_labels(db, view))[1][0]
    variables = {"id": view["id"], "pos": 1, "op": "o1", "label": label}

    ack = await post(client, SAVE, {**variables, "seq": 1_800_000_000_000}, learner)
    assert ack.json()["data"]["saveAnswer"]["applied"] is True, ack.text
    over = await post(client, SAVE, {**variables, "op": "o2", "seq": 2**63}, learner)
    [problem] = over.json()["errors"]
    assert "Long must be a whole number from 0 to 9223372036854775807" in problem["message"]
    long_id = await post(client, SAVE, {**variables, "id": "x" * 5000, "seq": 2}, learner)
    assert "ids are at most 32 characters" in long_id.json()["errors"][0]["message"]


async def test_introspection_is_refused_in_production_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    learner = await bearer(client, db)
    shown = await post(client, "{ __schema { queryType { name } } }", headers=learner)
    assert shown.json()["data"]["__schema"]["queryType"]["name"] == "Query"

    production = build_schema(introspection=False)
    hidden = await production.execute("{ __schema { queryType { name } } }")
    assert hidden.errors
    assert "introspection" in hidden.errors[0].message.lower()
