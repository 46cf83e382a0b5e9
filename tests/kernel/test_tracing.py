"""Traces exported over OTLP/HTTP to a real receiver (tests/support/otlp.py): one trace from a
request through the outbox and a private NATS JetStream to the worker's handler, the trace id
in the request's JSON log line, the in-process relay and jobs alike, and the doctor's probe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from certplatform.app import create_app, relay_events
from certplatform.kernel import jobs
from certplatform.kernel.db import Database
from certplatform.kernel.doctor import check_all
from certplatform.kernel.events import OutboxEvent
from certplatform.kernel.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.nats import NatsServer
from tests.support.otlp import CONSUMER_KIND, PRODUCER_KIND, SERVER_KIND, OtlpReceiver
from tests.support.server import free_port, serve, start_worker

LOGIN_TOPIC = "certplatform.identity.login.succeeded.v1"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _json_lines(path: Path) -> list[dict[str, object]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


@pytest.mark.slow
async def test_a_write_is_one_trace_from_the_request_through_nats_to_the_handler(
    db: Database,
    database_url: str,
    receiver: OtlpReceiver,
    broker: NatsServer,
    tmp_path: Path,
) -> None:
    email = await make_user(db, "learner", "traced@example.com")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "MEDIA_DIR": str(tmp_path),
        "NATS_URL": broker.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: export at once, not every 5 s
        "LOG_REQUESTS": "true",
        "LOG_LEVEL": "INFO",
        "SWEEPER_INTERVAL": "0",
        "CLEANUP_INTERVAL": "0",
        "AUDIT_CHECKPOINT_INTERVAL": "0",
    }
    env.pop("REDIS_URL", None)
    port = free_port()
    server = serve({**env, "EVENT_RELAY_INTERVAL": "0.2"}, port, tmp_path / "server.log")
    # Only the server relays (publishes); the worker runs the handlers.
    worker = start_worker({**env, "EVENT_RELAY_INTERVAL": "0"}, tmp_path / "worker.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            reply = await http.post(
                "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
            )
        assert reply.status_code == 200, reply.text
        request = receiver.wait_for("POST /api/v1/auth/token")
        publish = receiver.wait_for(f"publish {LOGIN_TOPIC}")
        handler = receiver.wait_until(
            lambda span: span.parent_span_id == publish.span_id, "a handler of the publish"
        )
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)

    assert (request.kind, request.service) == (SERVER_KIND, "certplatform-all")
    assert request.parent_span_id == ""
    assert request.attributes["http.route"] == "/api/v1/auth/token"
    assert request.attributes["http.response.status_code"] == 200
    assert (publish.kind, publish.service) == (PRODUCER_KIND, "certplatform-all")
    assert publish.attributes["messaging.system"] == "nats"
    assert (handler.kind, handler.service) == (CONSUMER_KIND, "certplatform-worker")
    # One trace; the publish span is the request's child, the handler the publish span's.
    assert publish.trace_id == handler.trace_id == request.trace_id
    assert publish.parent_span_id == request.span_id
    assert handler.attributes["certplatform.handler"]
    # Every handler that ran on the event (audit, analytics ...) in that one trace.
    for span in receiver.spans:
        if span.kind == CONSUMER_KIND and span.trace_id == request.trace_id:
            assert span.parent_span_id == publish.span_id
    # The request's JSON log line carries the same trace and its span.
    lines = [
        line
        for line in _json_lines(tmp_path / "server.log")
        if line.get("event") == "http.request" and line.get("route") == "/api/v1/auth/token"
    ]
    assert len(lines) == 1, lines
    assert (lines[0]["trace_id"], lines[0]["span_id"]) == (request.trace_id, request.span_id)
    assert lines[0]["status"] == 200
    # The outbox row kept the request's traceparent.
    async with db.sessions() as session:
        row = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == LOGIN_TOPIC))
        ).one()
    assert (row.traceparent or "").startswith(f"00-{request.trace_id}-{request.span_id}-")
    assert row.published_at is not None


@pytest.fixture
async def traced_app(settings: Settings, receiver: OtlpReceiver) -> Iterator[FastAPI]:
    traced = settings.model_copy(
        update={"otel_exporter_otlp_endpoint": receiver.endpoint, "otel_service_name": "svc"}
    )
    application = create_app(traced)
    async with application.router.lifespan_context(application):
        yield application  # type: ignore[misc]


async def test_the_in_process_relay_and_jobs_continue_the_request_trace(
    db: Database, traced_app: FastAPI, receiver: OtlpReceiver
) -> None:
    email = await make_user(db, "learner", "in-process@example.com")
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        reply = await http.post(
            "/api/v1/auth/token",
            json={"email": email, "password": PASSWORD},
            # A tracing proxy in front: the request span is its child.
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
        assert reply.status_code == 200, reply.text
        assert await relay_events(traced_app) >= 1
        assert (await http.get("/no/such/page-1234")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200

        # A job sent inside a traced span runs in a child span.
        done: list[str] = []

        @jobs.job("test.traced")
        async def traced_job(key: str) -> None:
            done.append(key)

        from certplatform.kernel.tracing import tracer

        active = tracer()
        assert active is not None
        with active.start_as_current_span("sender"):
            await jobs.enqueue("test.traced")
        await jobs.broker.wait_all()  # type: ignore[attr-defined]
    assert len(done) == 1

    request = receiver.wait_for("POST /api/v1/auth/token")
    publish = receiver.wait_for(f"publish {LOGIN_TOPIC}")
    handler = receiver.wait_until(
        lambda span: span.parent_span_id == publish.span_id, "a handler of the publish"
    )
    assert request.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert request.parent_span_id == "b7ad6b7169203331"
    assert publish.attributes["messaging.system"] == "in-process"
    assert (publish.trace_id, publish.parent_span_id) == (request.trace_id, request.span_id)
    assert (handler.trace_id, handler.parent_span_id) == (request.trace_id, publish.span_id)
    assert {s.service for s in (request, publish, handler)} == {"svc"}
    # A path no route matched names no span: its name has a bound.
    unmatched = receiver.wait_until(
        lambda span: span.attributes.get("url.path") == "/no/such/page-1234", "the 404"
    )
    assert (unmatched.name, unmatched.attributes["http.response.status_code"]) == ("GET", 404)
    # Probes are not traced (every few seconds from every health check).
    assert not [span for span in receiver.spans if span.attributes.get("url.path") == "/healthz"]
    sender = receiver.wait_for("sender")
    job = receiver.wait_for("job test.traced")
    assert (job.kind, job.trace_id, job.parent_span_id) == (
        CONSUMER_KIND,
        sender.trace_id,
        sender.span_id,
    )


async def test_untraced_writes_keep_no_traceparent(client: httpx.AsyncClient, db: Database) -> None:
    email = await make_user(db, "learner", "untraced@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxEvent.traceparent))).all()
    assert rows
    assert set(rows) == {None}


async def test_doctor_posts_to_the_receiver_and_refuses_what_is_not_one(
    receiver: OtlpReceiver,
) -> None:
    settings = Settings(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    (check,) = await check_all(settings, backends=("otlp",))
    assert check.reachable is True
    assert (check.version or "").startswith("OTLP/HTTP (BaseHTTP/")
    assert receiver.requests == 1  # the probe's empty export arrived and was decoded
    closed = free_port()
    settings = Settings(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed}")
    (check,) = await check_all(settings, backends=("otlp",))
    assert (check.configured, check.reachable) == (True, False)
