"""The two shapes the suite runs in (ADR 0034).

- `embedded` (the default): events relayed in-process, jobs in memory, media on the local
  disk, limits and sessions in memory; SQLite and PostgreSQL.
- `distributed` (`TEST_SHAPE=distributed`): every backend on, as deployed. The app under
  test publishes events to NATS (the shared server, a namespace of this run), enqueues jobs
  on Redis (the shared server, a key prefix of this run), keeps media in S3 (a moto server
  of this run) and limits and session revocations in Redis; a `certplatform worker`
  process consumes the events and the jobs. PostgreSQL only. The tests that use the app
  run, but for those in `EMBEDDED_ONLY` (see the ADR for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certplatform.kernel.jetstream import JetStream, durable_name, stream_name
from certplatform.kernel.settings import Settings
from tests.support.nats import _listening
from tests.support.redis import drop_prefix, run_prefix, shared_redis_url
from tests.support.s3 import s3_server

SHAPE = os.environ.get("TEST_SHAPE", "embedded")
if SHAPE not in ("embedded", "distributed"):
    raise RuntimeError(f"TEST_SHAPE={SHAPE!r}: use embedded or distributed")
DISTRIBUTED_SHAPE = SHAPE == "distributed"
SHARED_NATS = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")

# The distributed shape runs every test that uses the app under test (the `app` fixture,
# directly or through `db`, `client`, `storage`): only those can see the shape. Left out:
EMBEDDED_ONLY = (
    # Browser tests drive a live server of their own per backend and take most of the
    # suite's time; the API tests below cover the same flows.
    "tests/web/",
    # Deployment files, role processes, CLI processes: their own environment, not the app's.
    "tests/deploy/",
    "tests/cli/",
    # Fault tests with private servers (a nats-server, redis-server, moto per test) that
    # stop and start them, or swap this process's job broker: the shape is theirs already.
    "tests/kernel/test_jetstream.py",
    "tests/kernel/test_jobs.py",
    "tests/kernel/test_redis.py",
    "tests/content/test_s3_media.py",
    "tests/kernel/test_postgres_restart.py",
    # Traces through the in-process relay and a private NATS (their own transports).
    "tests/kernel/test_tracing.py",
    # What this process has configured, and this process's metrics (the handlers run in
    # the worker in the distributed shape).
    "tests/kernel/test_doctor.py",
    "tests/kernel/test_telemetry.py",
)


def runs_in_distributed_shape(nodeid: str, fixtures: list[str]) -> bool:
    return "app" in fixtures and not nodeid.startswith(EMBEDDED_ONLY)


@dataclass(frozen=True)
class Services:
    nats_url: str
    namespace: str
    redis_url: str
    redis_prefix: str
    s3_endpoint: str

    def settings(self) -> dict[str, object]:
        return {
            "NATS_URL": self.nats_url,
            "NATS_NAMESPACE": self.namespace,
            "NATS_BACKOFF": "0.2,1",  # a handler that fails shows up in seconds, not minutes
            "NATS_MAX_DELIVER": 3,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": "test",
            "S3_SECRET_KEY": "test",
            "JOB_REDELIVER_SECONDS": 30,
        }


@contextlib.contextmanager
def services(workdir: Path) -> Iterator[Services]:
    """This run's place on the shared NATS and Redis, and its own moto S3 server."""
    host, port = SHARED_NATS.removeprefix("nats://").rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost") or not _listening(int(port)):
        pytest.fail(f"NATS at {SHARED_NATS} does not answer (.ci/run starts it)")
    redis_url = shared_redis_url()
    run = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    found = Services(
        nats_url=SHARED_NATS,
        namespace=f"certplatform_test_{run}",
        redis_url=redis_url,
        redis_prefix=run_prefix(),
        s3_endpoint="",
    )
    try:
        with s3_server(workdir / "moto.log") as endpoint:
            yield Services(**{**found.__dict__, "s3_endpoint": endpoint})
    finally:
        drop_prefix(redis_url, found.redis_prefix)


async def delete_streams(found: Services) -> None:
    transport = JetStream(found.nats_url, namespace=found.namespace)
    try:
        await transport.delete_streams()
    finally:
        await transport.close()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker process with exactly the settings of the app under test."""
    env = dict(os.environ)
    for name, value in settings.model_dump(by_alias=True, mode="json").items():
        if value is None:
            env.pop(name, None)
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, dict | list):
            env[name] = json.dumps(value)
        else:
            env[name] = str(value)
    return env


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "certplatform.cli", "worker", "--concurrency", "4"],
            env=worker_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def until_consuming(
    transport: JetStream, contexts: set[str], worker: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait until the worker has its consumers on every context's stream."""
    js = await transport.context()
    deadline = time.monotonic() + 60
    while True:
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited:\n{tail(log)}")
        with contextlib.suppress(Exception):
            for context in contexts:
                stream = stream_name(context, transport.namespace)
                last = durable_name(transport.delivery.partitions - 1)
                await js.consumer_info(stream, last)
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not subscribe:\n{tail(log)}")
        await asyncio.sleep(0.2)


async def settled(transport: JetStream, seconds: float = 60.0) -> None:
    """Wait until the worker has handled (and acked) every event published so far."""
    js = await transport.context()
    prefix = transport.namespace.upper() + "_"
    deadline = time.monotonic() + seconds
    while True:
        busy = []
        for stream in await js.streams_info():
            name = stream.config.name or ""
            if not name.startswith(prefix) or name == stream_name("dead", transport.namespace):
                continue
            for consumer in await js.consumers_info(name):
                if consumer.num_pending or consumer.num_ack_pending:
                    busy.append(f"{name}/{consumer.name}")
        if not busy:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"events still unhandled: {busy}")
        await asyncio.sleep(0.05)
