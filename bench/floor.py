"""The floor for an answer save: a raw Starlette + asyncpg server doing one durable upsert.

What every save must at least do on this machine: parse an HTTP request with a JSON body and
commit one row to PostgreSQL (synchronous commit, as the app's database does). The app's save
is measured against it in the same run (bench/save_peak.py).

    python -m uvicorn --factory bench.floor:create_app --workers 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TABLE = """CREATE TABLE IF NOT EXISTS floor_answers (
    attempt_id text NOT NULL, position integer NOT NULL, response jsonb, op_seq bigint NOT NULL,
    PRIMARY KEY (attempt_id, position))"""
UPSERT = """INSERT INTO floor_answers (attempt_id, position, response, op_seq)
    VALUES ($1, $2, $3::jsonb, $4)
    ON CONFLICT (attempt_id, position) DO UPDATE
    SET response = excluded.response, op_seq = excluded.op_seq
    WHERE floor_answers.op_seq < excluded.op_seq"""


def create_app() -> Starlette:
    dsn = os.environ["FLOOR_DSN"]
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The table is made by the benchmark before the workers start (TABLE).
        state["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        yield
        await state["pool"].close()

    async def save(request: Request) -> Response:
        body = json.loads(await request.body())
        async with state["pool"].acquire() as conn:
            await conn.execute(
                UPSERT,
                request.path_params["attempt"],
                request.path_params["position"],
                json.dumps(body["answer"]),
                body["op_seq"],
            )
        return Response(b'{"applied":true}', media_type="application/json")

    routes = [Route("/floor/{attempt}/answers/{position:int}", save, methods=["PUT"])]
    return Starlette(routes=routes, lifespan=lifespan)
