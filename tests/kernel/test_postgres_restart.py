"""PostgreSQL restarted while learners save: a private cluster (tests/support/postgres.py) under
a real `certplatform serve` process, stopped (`pg_ctl stop -m fast`) and started mid-load.

- In-flight and new requests fail cleanly while it is down: 503 with a JSON error, quickly.
- No half writes: every acknowledged save is there afterwards with its exact answer; an
  unacknowledged one is either there whole or not at all; the attempt's unanswered count
  equals its blank items.
- The pools reconnect by themselves: the same server process answers again within seconds,
  and the retried saves (same operation ids) are taken.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from certplatform.kernel import migrate
from certplatform.kernel.db import Database
from certplatform.kernel.storage import LocalStorage
from certplatform.learning.models import Attempt, AttemptItem
from tests.conftest import BACKENDS
from tests.support.accounts import PASSWORD, make_user
from tests.support.exams import blueprint_id, load, save
from tests.support.postgres import PrivatePostgres
from tests.support.server import free_port, serve

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.slow,
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="a PostgreSQL fault test"),
]

LEARNERS = 6
SKIPPED = 7  # every 7th position is left blank
REQUEST_BOUND_S = 10.0  # no request may hang longer than this, up or down
RECOVERY_BOUND_S = 5.0


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@dataclass
class Learner:
    headers: dict[str, str]
    attempt: str
    items: list[dict]  # type: ignore[type-arg]
    acked: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    blank: set[int] = field(default_factory=set)


@dataclass
class Failure:
    kind: str  # save (the lean path, asyncpg) or read (SQLAlchemy)
    status: int
    body: dict  # type: ignore[type-arg]
    seconds: float


async def test_postgres_restarted_mid_load(postgres: PrivatePostgres, tmp_path: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres.url)
    db = Database(postgres.url)
    emails = []
    try:
        await load(db, LocalStorage(tmp_path / "media"), "US-FCC-TECHNICIAN")
        for n in range(LEARNERS):
            emails.append(await make_user(db, "learner", f"restart-{n}@example.com"))
        blueprint = await blueprint_id(db, "US-FCC-TECHNICIAN")
    finally:
        await db.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url,
        "APP_ENV": "test",
        "MEDIA_DIR": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
        "SWEEPER_INTERVAL": "0",
        "CLEANUP_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    for name in ("REDIS_URL", "NATS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(name, None)
    port = free_port()
    server = serve(env, port, tmp_path / "server.log")
    failures: list[Failure] = []
    timeline: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_BOUND_S + 5
        ) as http:
            learners = [await _begin(http, email, blueprint) for email in emails]
            acked_total = 0
            enough = asyncio.Event()  # a fifth of the saves are in: restart now
            first_after_up: list[float] = []

            async def until_taken(
                send: Callable[[], Awaitable[httpx.Response]], kind: str = "save"
            ) -> None:
                """Send until answered 200, every failure kept, like the exam page's queue."""
                began = time.monotonic()
                while True:
                    started = time.monotonic()
                    reply = await send()
                    seconds = time.monotonic() - started
                    if reply.status_code == 200:
                        if "up" in timeline and not first_after_up:
                            first_after_up.append(time.monotonic() - timeline["up"])
                        return
                    failures.append(Failure(kind, reply.status_code, _body(reply), seconds))
                    assert time.monotonic() - began < 60, "no recovery"
                    await asyncio.sleep(0.2)

            async def learner_saves(learner: Learner) -> None:
                """Each answer once (the lean save), and now and then a read through the
                SQLAlchemy pool (the unanswered positions)."""
                nonlocal acked_total
                for item in learner.items:
                    position = item["position"]
                    if position % SKIPPED == 0:
                        learner.blank.add(position)
                        continue
                    label = item["question"]["choices"][position % 4]["label"]
                    await until_taken(
                        lambda: save(http, learner.headers, learner.attempt, position, label)  # noqa: B023
                    )
                    learner.acked[position] = label
                    acked_total += 1
                    if acked_total >= LEARNERS * 6:
                        enough.set()
                    await asyncio.sleep(0.03)

            async def reader(learner: Learner, saving: list[asyncio.Task[None]]) -> None:
                """Reads through the SQLAlchemy pool (the unanswered positions) all along."""
                while not all(task.done() for task in saving):
                    await until_taken(
                        lambda: http.get(
                            f"/api/v1/attempts/{learner.attempt}/unanswered",
                            headers=learner.headers,
                        ),
                        "read",
                    )
                    await asyncio.sleep(0.05)

            async def restart() -> None:
                await enough.wait()
                timeline["stop"] = time.monotonic()
                await asyncio.to_thread(postgres.stop, "fast")
                await asyncio.sleep(1.0)  # down for a while: requests keep coming
                await asyncio.to_thread(postgres.start)
                timeline["up"] = time.monotonic()

            saving = [asyncio.create_task(learner_saves(learner)) for learner in learners]
            await asyncio.gather(restart(), reader(learners[0], saving), *saving)
            # The same server took saves again within seconds of the start, without a restart.
            assert first_after_up, "every save was in before the database came back"
            recovered_in = first_after_up[0]
            assert recovered_in < RECOVERY_BOUND_S
            assert server.poll() is None  # the same process all along
            views = [
                (await http.get(f"/api/v1/attempts/{learner.attempt}", headers=learner.headers))
                for learner in learners
            ]
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(  # noqa: T201 - the figures of the run, for the report
        f"saves {sum(len(x.acked) for x in learners)}, failed tries {len(failures)}, "
        f"first request taken {recovered_in:.2f} s after the start, slowest failure "
        f"{max((f.seconds for f in failures), default=0):.2f} s"
    )
    # The restart happened under load: saves failed, each cleanly (503, JSON) and quickly.
    assert {f.kind for f in failures} == {"save", "read"}, "no request overlapped the restart"
    assert {f.status for f in failures} == {503}
    assert {f.body.get("error", {}).get("code") for f in failures} == {"unavailable"}
    assert max(f.seconds for f in failures) < REQUEST_BOUND_S
    # No half writes: the answers are exactly the acknowledged ones; blanks stay blank.
    for learner, view in zip(learners, views, strict=True):
        assert view.status_code == 200
        answers = {
            i["position"]: i["answer"]["choices"][0] for i in view.json()["items"] if i["answer"]
        }
        assert answers == learner.acked
        assert set(answers).isdisjoint(learner.blank)
        assert len(learner.acked) + len(learner.blank) == len(learner.items)
    db = Database(postgres.url)
    try:
        async with db.sessions() as session:
            for learner in learners:
                counted = await session.scalar(
                    select(Attempt.unanswered).where(Attempt.id == learner.attempt)
                )
                blank = await session.scalar(
                    select(func.count()).where(
                        AttemptItem.attempt_id == learner.attempt, AttemptItem.response.is_(None)
                    )
                )
                assert counted == blank == len(learner.blank)
    finally:
        await db.dispose()


def _body(reply: httpx.Response) -> dict:  # type: ignore[type-arg]
    try:
        found = reply.json()
    except ValueError:
        return {"text": reply.text[:200]}
    return found if isinstance(found, dict) else {"json": found}


async def _begin(http: httpx.AsyncClient, email: str, blueprint: str) -> Learner:
    token = await http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"authorization": f"Bearer {token.json()['access_token']}"}
    started = await http.post("/api/v1/attempts", json={"blueprint_id": blueprint}, headers=headers)
    assert started.status_code == 201, started.text
    view = started.json()
    return Learner(headers, view["id"], view["items"])
