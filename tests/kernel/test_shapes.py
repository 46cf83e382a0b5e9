"""The distributed shape is what it says (ADR 0034): this process publishes, enqueues and
stores elsewhere, and the worker process does the handling. Each test here fails if the
app quietly fell back to its embedded parts."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import boto3
import httpx
import nats
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import select

from certplatform.audit.models import AuditEntry
from certplatform.kernel import jobs
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.jetstream import durable_name, stream_name
from certplatform.kernel.jobs import FORGET_RUNS_JOB, JobRun
from certplatform.kernel.s3 import S3Storage
from certplatform.kernel.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.events import relay_events

pytestmark = pytest.mark.distributed_only


async def _delivered(settings: Settings, context: str) -> int:
    """Events the context's consumers handed out so far (all partitions)."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        stream = stream_name(context, settings.nats_namespace)
        total = 0
        for partition in range(settings.nats_partitions):
            info = await js.consumer_info(stream, durable_name(partition))
            total += info.delivered.consumer_seq
        return total
    finally:
        await nc.close()


async def test_events_go_through_nats_and_the_worker_process_handles_them(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    assert app.state.events_transport is not None
    assert not app.state.consume_events  # this process only publishes
    before = await _delivered(settings, "identity")
    email = await make_user(db, "learner", "shape@example.com")
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200

    assert await relay_events(app) == 2  # user.created, login.succeeded: published
    # The broker delivered both to the worker's consumers, and the worker wrote the entries.
    assert await _delivered(settings, "identity") - before == 2
    async with db.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert sorted(actions) == ["identity.login.succeeded", "identity.user.created"]


async def test_a_job_enqueued_here_runs_in_the_worker_process(db: Database) -> None:
    assert jobs.on_redis()  # this process has no receiver: only the worker takes jobs
    async with db.transaction() as uow:
        uow.session.add(JobRun(key="old", job="test", done_at=utcnow() - timedelta(days=30)))
        uow.session.add(JobRun(key="recent", job="test", done_at=utcnow()))
    await jobs.enqueue(FORGET_RUNS_JOB, keep_days=7.0)
    deadline = time.monotonic() + 30
    while True:
        async with db.sessions() as session:
            keys = set((await session.scalars(select(JobRun.key))).all())
        if keys == {"recent"}:  # the worker forgot the old run
            break
        assert time.monotonic() < deadline, keys
        await asyncio.sleep(0.1)


async def test_media_lands_in_the_s3_bucket(app: FastAPI, settings: Settings) -> None:
    storage = app.state.storage
    assert isinstance(storage, S3Storage)
    digest = await asyncio.to_thread(storage.put, b"a figure of the distributed shape")
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name=settings.s3_region,
    )
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket)
    assert any(digest in item["Key"] for item in listed.get("Contents", []))


async def test_login_limits_count_in_redis_under_this_runs_prefix(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    email = await make_user(db, "learner", "limits@example.com")
    for _ in range(5):
        wrong = await client.post("/api/v1/auth/login", json={"email": email, "password": "x"})
        assert wrong.status_code == 401
    refused = await client.post("/api/v1/auth/login", json={"email": email, "password": "x"})
    assert refused.status_code == 429  # LOGIN_LIMIT_ACCOUNT_IP 5/minute
    assert settings.redis_url is not None
    shared = redis.Redis.from_url(settings.redis_url)
    try:
        assert list(shared.scan_iter(match=settings.redis_prefix + "limits*"))
    finally:
        shared.close()
