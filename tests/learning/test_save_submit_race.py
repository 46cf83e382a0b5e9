"""An answer acknowledged as saved is graded: hundreds of saves race two submits and the
deadline sweeper on one attempt, against a live server process (real connections, real
interleaving), and every reply is either an acknowledgement the grade reflects or a 409."""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import AnswerRecord, Attempt, AttemptItem, AttemptOperation
from certplatform.learning.tasks import sweep_deadlines
from tests.support.accounts import bearer
from tests.support.exams import blueprint_id, keys_of, load, wrong_key
from tests.support.server import free_port, serve

OPS_PER_QUESTION = 9  # 35 questions: 315 saves, some sent twice


@dataclass(frozen=True)
class Op:
    op_id: str
    position: int
    seq: int
    label: str
    right: bool
    elapsed_ms: int


def _ops(view: dict[str, Any], keys: dict[int, list[str]]) -> list[Op]:
    """Per question, operations 1..n alternating right and wrong answers. Operation i takes
    2**i ms, so an item's time (and the time its answer record was graded with) tells
    exactly which operations had been written when it was read."""
    ops = []
    for item in view["items"]:
        position = item["position"]
        for i in range(OPS_PER_QUESTION):
            right = i % 2 == 0
            label = keys[position][0] if right else wrong_key(item, keys[position])
            ops.append(Op(f"p{position}-s{i + 1}", position, i + 1, label, right, 2**i))
    return ops


@pytest.mark.slow
async def test_every_acknowledged_answer_is_graded_and_every_other_save_is_refused(
    db: Database, storage: LocalStorage, database_url: str, tmp_path: Path
) -> None:
    await load(db, storage, "US-FCC-TECHNICIAN")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "MEDIA_DIR": str(tmp_path),
        "SWEEPER_INTERVAL": "0",
        "LOG_LEVEL": "WARNING",
        # Saves are accepted long after the deadline, so the sweeper (run below with no
        # grace) submits while saves are still coming in.
        "ANSWER_GRACE_SECONDS": "600",
    }
    port = free_port()
    server = serve(env, port, tmp_path / "server.log")
    limits = httpx.Limits(max_connections=64)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits
        ) as http:
            headers = await bearer(http, db)
            reply = await http.post(
                "/api/v1/attempts",
                json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
                headers=headers,
            )
            assert reply.status_code == 201, reply.text
            view = reply.json()
            attempt_id = view["id"]
            keys = await keys_of(db, view)
            ops = _ops(view, keys)
            # Past the deadline but within the grace period; started long enough ago for
            # every operation's time to count.
            now = utcnow()
            async with db.transaction() as uow:
                attempt = await uow.session.get(Attempt, attempt_id)
                assert attempt is not None
                await uow.session.execute(
                    update(Attempt)
                    .where(Attempt.id == attempt_id)
                    .values(
                        started_at=now - timedelta(hours=1),
                        deadline_at=now - timedelta(seconds=1),
                        sections=[
                            {**s, "deadline_at": s["deadline_at"] and now.isoformat()}
                            for s in attempt.sections
                        ],
                    )
                )

            rng = random.Random(7)
            sends = ops + [op for op in ops if rng.random() < 0.15]  # retries of the same op
            rng.shuffle(sends)
            third = asyncio.Event()
            replies: list[tuple[Op, httpx.Response]] = []

            async def send(op: Op) -> None:
                reply = await http.put(
                    f"/api/v1/attempts/{attempt_id}/answers/{op.position}",
                    json={
                        "op_id": op.op_id,
                        "op_seq": op.seq,
                        "answer": {"choices": [op.label]},
                        "elapsed_ms": op.elapsed_ms,
                    },
                    headers=headers,
                )
                replies.append((op, reply))
                if len(replies) >= len(sends) // 3:
                    third.set()

            async def submit() -> httpx.Response:
                await third.wait()
                return await http.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)

            async def sweep() -> int:
                await third.wait()
                return await sweep_deadlines(db, grace_seconds=0.0)

            outcome = await asyncio.gather(*[send(op) for op in sends], submit(), submit(), sweep())
    finally:
        server.terminate()
        server.wait(timeout=30)

    submits = outcome[len(sends) : len(sends) + 2]
    assert [s.status_code for s in submits] == [200, 200], [s.text for s in submits]
    assert submits[0].json() == submits[1].json()

    # Every reply is an acknowledgement or a 409; all replies for one op id agree.
    statuses = {reply.status_code for _, reply in replies}
    assert statuses <= {200, 409}, [r.text for _, r in replies if r.status_code not in (200, 409)]
    outcomes: dict[str, set[Any]] = {}
    for op, reply in replies:
        outcomes.setdefault(op.op_id, set()).add(
            reply.json()["applied"] if reply.status_code == 200 else 409
        )
    assert all(len(o) == 1 for o in outcomes.values()), {
        k: v for k, v in outcomes.items() if len(v) > 1
    }
    by_id = {op.op_id: op for op in ops}
    saved = {by_id[k]: next(iter(v)) for k, v in outcomes.items() if v != {409}}
    acked = {op for op, applied in saved.items() if applied}
    refused = [k for k, v in outcomes.items() if v == {409}]
    # The submit landed among the saves: some were acknowledged, some refused.
    assert acked
    assert refused

    async with db.transaction() as uow:
        attempt = await uow.session.get(Attempt, attempt_id)
        items = {
            i.position: i
            for i in await uow.session.scalars(
                select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
            )
        }
        recorded = {
            o.op_id: o
            for o in await uow.session.scalars(
                select(AttemptOperation).where(AttemptOperation.attempt_id == attempt_id)
            )
        }
        graded = {
            r.question_id: r
            for r in await uow.session.scalars(
                select(AnswerRecord).where(AnswerRecord.context == "exam")
            )
        }
        submitted_events = await uow.session.scalar(
            select(func.count()).where(OutboxEvent.topic.like("%attempt.submitted%"))
        )
    assert attempt is not None
    assert attempt.status == "submitted"
    assert attempt.result
    assert submitted_events == 1
    # Exactly the acknowledged operations are recorded, with the outcome they were told.
    assert {k: o.applied for k, o in recorded.items()} == {
        op.op_id: applied for op, applied in saved.items()
    }

    unanswered = correct = 0
    for position, item in items.items():
        here = [op for op in saved if op.position == position]
        applied_here = [op for op in here if op in acked]
        # The item's time, and the time its answer was graded with, are the sum of the
        # times of the acknowledged operations: nothing refused was written, nothing
        # acknowledged was missed by the grading.
        assert item.time_ms == sum(op.elapsed_ms for op in here), position
        if not applied_here:
            assert not here, position  # "not applied" only ever means a newer op won
            assert (item.response, item.op_seq, item.fraction) == (None, 0, 0.0), position
            assert item.question_id not in graded, position
            unanswered += 1
            continue
        last = max(applied_here, key=lambda op: op.seq)
        assert all(op.seq < last.seq for op in here if op not in acked), position
        assert item.op_seq == last.seq, position
        assert item.response == recorded[last.op_id].response, position
        assert item.fraction == (1.0 if last.right else 0.0), position
        record = graded[item.question_id]
        assert (record.fraction, record.elapsed_ms) == (item.fraction, item.time_ms), position
        correct += int(last.right)
    assert attempt.result["unanswered_count"] == unanswered
    assert attempt.result["correct_count"] == correct


async def test_the_unanswered_count_stays_exact_when_saves_of_one_attempt_race(
    db: Database, storage: LocalStorage, database_url: str, tmp_path: Path
) -> None:
    """Answers given and taken back on the same questions, all at once and out of order:
    the count kept on the attempt (what every save replies) equals the blank items."""
    await load(db, storage, "US-FCC-TECHNICIAN")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "MEDIA_DIR": str(tmp_path),
        "SWEEPER_INTERVAL": "0",
        "LOG_LEVEL": "WARNING",
    }
    port = free_port()
    server = serve(env, port, tmp_path / "server.log")
    limits = httpx.Limits(max_connections=32)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits
        ) as http:
            headers = await bearer(http, db)
            reply = await http.post(
                "/api/v1/attempts",
                json={"blueprint_id": await blueprint_id(db, "US-FCC-TECHNICIAN")},
                headers=headers,
            )
            assert reply.status_code == 201, reply.text
            attempt_id = reply.json()["id"]
            rng = random.Random(11)
            sends = [
                (position, seq, rng.random() < 0.5)
                for position in range(1, 11)
                for seq in range(1, 13)
            ]
            rng.shuffle(sends)

            async def send(position: int, seq: int, answer: bool) -> int:
                reply = await http.put(
                    f"/api/v1/attempts/{attempt_id}/answers/{position}",
                    json={
                        "op_id": f"q{position}-{seq}",
                        "op_seq": seq,
                        "answer": {"choices": ["1"] if answer else []},
                    },
                    headers=headers,
                )
                assert reply.status_code == 200, reply.text
                return int(reply.json()["unanswered_count"])

            counts = await asyncio.gather(*(send(*s) for s in sends))
            assert all(0 <= c <= 35 for c in counts)
            view = (await http.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
            # The newest operation of each question decides whether it is answered.
            newest = {p: a for p, s, a in sorted(sends, key=lambda s: s[1])}
            blank = 35 - sum(newest.values())
            assert len(view["unanswered"]) == blank
            last = await send(1, 100, newest[1])  # a save now replies the current count
            assert last == blank
    finally:
        server.terminate()
        server.wait(timeout=30)
    async with db.transaction() as uow:
        kept = await uow.session.scalar(select(Attempt.unanswered).where(Attempt.id == attempt_id))
        items = await uow.session.scalar(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt_id, AttemptItem.response.is_(None))
        )
    assert kept == items == blank
