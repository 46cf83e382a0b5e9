"""The ASGI application: wires the contexts' routers and builds shared state in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError

from certplatform.analytics import port as analytics_port
from certplatform.analytics.api import router as analytics_router
from certplatform.analytics.calibration import nightly as nightly_calibration
from certplatform.analytics.handlers import subscribe as subscribe_analytics
from certplatform.audit.api import router as audit_router
from certplatform.audit.chain import Keyring
from certplatform.audit.handlers import subscribe as subscribe_audit
from certplatform.audit.tasks import run_checkpointer
from certplatform.community.api import router as community_router
from certplatform.community.handlers import subscribe as subscribe_community
from certplatform.community.rooms import RoomLimiter
from certplatform.community.service import CommunityLimiter
from certplatform.community.socket import SocketRoute, build_server
from certplatform.content.api import router as content_router
from certplatform.gateway.graphql import graphql_router
from certplatform.identity.api import authenticate
from certplatform.identity.api import router as identity_router
from certplatform.identity.principals import (
    PrincipalCache,
    listen_for_revocations,
    listen_on_redis,
    use_redis_channel,
)
from certplatform.identity.recovery import RecoveryLimits
from certplatform.identity.service import LoginLimiter
from certplatform.kernel import jobs
from certplatform.kernel.admission import AdmissionControl
from certplatform.kernel.auth import load_enforcer
from certplatform.kernel.bodylimit import BodyLimit, BodyTooLarge, too_large_body
from certplatform.kernel.db import Database, database_unavailable
from certplatform.kernel.doctor import READY_BACKENDS, check_all
from certplatform.kernel.errors import (
    AppError,
    TooManyRequests,
    Unavailable,
    database_unavailable_error,
)
from certplatform.kernel.events import EventBus, relay_forever, relay_pending
from certplatform.kernel.jetstream import Delivery, JetStream, parse_backoff
from certplatform.kernel.logging import configure_logging
from certplatform.kernel.mail import SmtpMailer, mailer_from_settings
from certplatform.kernel.ratelimit import RateLimit, shared_storage
from certplatform.kernel.redis import Channel, RedisHealth, SharedLimitStorage, redis_readiness
from certplatform.kernel.settings import Settings, get_settings
from certplatform.kernel.storage import make_storage
from certplatform.kernel.telemetry import REGISTRY, MetricsMiddleware
from certplatform.kernel.tracing import RequestTrace, configure_tracing, shutdown_tracing
from certplatform.learning.api import router as learning_router
from certplatform.learning.lean_route import LeanSaveRoute
from certplatform.learning.lean_save import LeanSaves, create_pool
from certplatform.learning.tasks import sweeper
from certplatform.roles import Role
from certplatform.web import i18n
from certplatform.web import routes as web

log = structlog.get_logger(__name__)

# Routes that take a file: the import API and the admin import page.
UPLOAD_PATHS = (r"^/api/v1/certifications/[^/]+/import$", r"^/admin/import$")
READY_TIMEOUT = 0.5  # seconds per backend, probed side by side


# What each role mounts (ADR 0019): the gateway is the whole API edge (REST and GraphQL);
# a service role serves its own context's REST API; the page roles serve pages only.
# analytics has no routes yet: it serves the health and metrics routes.
_EDGE = (
    identity_router,
    content_router,
    audit_router,
    learning_router,
    community_router,
    analytics_router,
)
APIS: dict[Role, tuple[APIRouter, ...]] = {
    Role.all: _EDGE,
    Role.gateway: _EDGE,
    Role.content: (content_router,),
    Role.learning: (learning_router, analytics_router),
    Role.community: (community_router,),
}
# The study rooms' Socket.IO server (/socket.io/, namespace /study; ADR 0024).
SOCKETS = (Role.all, Role.community)
PAGES: dict[Role, tuple[APIRouter, ...]] = {
    Role.all: web.PAGE_ROUTERS,
    Role.web: web.LEARNER_ROUTERS,
    Role.admin: web.ADMIN_ROUTERS,
}


def periodic_jobs(settings: Settings) -> list[jobs.Periodic]:
    """What this process's scheduler sends, and how often (0 turns one off)."""
    found = []
    if settings.sweeper_interval > 0:
        found.append(
            sweeper(
                settings.sweeper_interval,
                settings.answer_grace_seconds,
                settings.wrong_note_clear_after,
            )
        )
    if settings.cleanup_interval > 0:
        found.append(jobs.Periodic(jobs.FORGET_RUNS_JOB, settings.cleanup_interval, {}))
    if settings.calibration_interval > 0:
        found.append(
            nightly_calibration(
                settings.calibration_interval,
                settings.calibration_offset,
                settings.calibration_model,
            )
        )
    return found


def create_app(settings: Settings | None = None, role: Role = Role.all) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing = settings.otel_exporter_otlp_endpoint
        if tracing:  # only then: another app of this process may be tracing
            configure_tracing(tracing, service_name(settings, role, app.state.consume_events))
        db = Database(settings.async_database_url)
        app.state.db = db
        app.state.bus = EventBus()
        subscribe_audit(app.state.bus, app.state.audit_keys)
        subscribe_community(app.state.bus)
        subscribe_analytics(app.state.bus)
        # The analytics store: ClickHouse with CH_HOST, else this database (ADR 0031).
        previous_analytics = analytics_port.use(analytics_port.factory_for(settings))
        redis_url = settings.redis_url
        health = app.state.redis_health = RedisHealth(redis_url) if redis_url else None
        limiter_storage = shared_storage(redis_url, settings.redis_prefix, health)
        app.state.login_limiter = LoginLimiter(
            settings.login_limit_account,
            settings.login_limit_ip,
            limiter_storage,
            per_account_ip=settings.login_limit_account_ip,
            signup_per_ip=settings.signup_limit_ip,
        )
        app.state.community_limiter = CommunityLimiter(
            settings.comment_limit_user, settings.report_limit_user, limiter_storage
        )
        app.state.recovery_limits = RecoveryLimits(settings, limiter_storage)
        app.state.room_limiter = RoomLimiter(settings.room_message_limit_user, limiter_storage)
        app.state.integrity_limit = RateLimit(
            settings.integrity_event_limit, "integrity-event", limiter_storage
        )
        jobs.bind_database(db)
        broker = jobs.configure(redis_url, settings.redis_prefix, settings.job_redeliver_seconds)
        await broker.startup()
        periodic = periodic_jobs(settings)
        scheduler = asyncio.create_task(jobs.schedule_forever(periodic)) if periodic else None
        # NATS on: the relay publishes to JetStream and the worker runs the handlers;
        # off: the relay runs them here (ADR 0021).
        transport = events_transport(settings)
        app.state.events_transport = transport
        relay = (
            asyncio.create_task(
                relay_forever(
                    db.sessions,
                    app.state.bus,
                    interval=settings.event_relay_interval,
                    publish=transport.publish_pending if transport else None,
                )
            )
            if settings.event_relay_interval > 0
            else None
        )
        consumer = (
            asyncio.create_task(transport.consume_forever(db.sessions, app.state.bus))
            if transport and app.state.consume_events
            else None
        )
        checkpointer = (
            asyncio.create_task(
                run_checkpointer(
                    db,
                    app.state.storage,
                    app.state.audit_keys,
                    interval=settings.audit_checkpoint_interval,
                    every_entries=settings.audit_checkpoint_entries,
                    every_minutes=settings.audit_checkpoint_minutes,
                )
            )
            if settings.audit_checkpoint_interval > 0
            else None
        )
        dsn = settings.asyncpg_dsn
        channel = (
            Channel(redis_url, settings.redis_prefix + "auth", health)
            if redis_url and health
            else None
        )
        use_redis_channel(channel)
        if channel is not None:
            listener: asyncio.Task[None] | None = asyncio.create_task(
                listen_on_redis(channel, app.state.principals)
            )
        elif dsn:
            listener = asyncio.create_task(listen_for_revocations(dsn, app.state.principals))
        else:
            listener = None
        if dsn and settings.lean_save:
            pool = await create_pool(dsn, settings.lean_pool_size)
            app.state.lean_saves = LeanSaves(pool, db, settings.answer_grace_seconds)
        log.info("app.started", database=db.engine.dialect.name)
        try:
            yield
        finally:
            lean = getattr(app.state, "lean_saves", None)
            if lean is not None:
                app.state.lean_saves = None
                await lean.close()
            for task in (listener, checkpointer, consumer, relay, scheduler):
                if task:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if isinstance(app.state.mailer, SmtpMailer):
                await app.state.mailer.drain()  # mail already promised to its reader
            if transport:
                await transport.close()
            await broker.shutdown()
            jobs.configure(None, settings.redis_prefix)  # back to the embedded broker
            jobs.bind_database(None)
            if channel is not None:
                use_redis_channel(None)
                await channel.close()
            if isinstance(limiter_storage, SharedLimitStorage):
                await limiter_storage.close()
            analytics_port.use(previous_analytics)
            await db.dispose()
            if tracing:
                shutdown_tracing()  # flushes the spans still queued

    app = FastAPI(
        title="cert-platform",
        version="0.1.0",
        description="Question bank, practice, CBT mock exams and remediation for certifications.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.role = role
    app.state.enforcer = load_enforcer()
    app.state.authenticator = authenticate
    app.state.storage = make_storage(settings)
    app.state.audit_keys = Keyring.from_settings(settings)
    app.state.principals = PrincipalCache(ttl=settings.principal_cache_seconds)
    app.state.lean_saves = None
    app.state.mailer = mailer_from_settings(settings)
    app.state.consume_events = False  # the worker sets it: it runs the handlers when NATS is on
    app.state.redis_health = None
    app.add_middleware(LeanSaveRoute)  # inside the metrics: added first
    # Uploads have their own, larger cap; the routes check the file size once more.
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger=[(pattern, settings.max_upload_bytes) for pattern in UPLOAD_PATHS],
    )
    app.add_middleware(MetricsMiddleware)
    if settings.otel_exporter_otlp_endpoint or settings.log_requests:
        app.add_middleware(RequestTrace, log_requests=settings.log_requests)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        headers = (
            {"retry-after": str(exc.retry_after)}
            if isinstance(exc, TooManyRequests | Unavailable)
            else None
        )
        if web.is_page(request):
            response = web.html_error(request, exc)
            response.headers.update(headers or {})
            return response
        lang = i18n.api_language(
            request.cookies.get("lang"), request.headers.get("accept-language")
        )
        body = exc.to_dict(i18n.catalog(lang).gettext)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    async def database_down(request: Request, exc: Exception) -> Response:
        """A dropped or refused database connection (a restart, a failover) is a 503 to
        retry, not a 500; the pool reconnects by itself. Any other database error is a bug."""
        if not database_unavailable(exc):
            raise exc
        log.warning("database.unavailable", path=request.url.path, error=str(exc)[:200])
        return await app_error(request, database_unavailable_error())

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_: Request, exc: BodyTooLarge) -> Response:
        return Response(
            too_large_body(exc.limit),
            status_code=413,
            media_type="application/json",
            headers={"connection": "close"},
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse(
            {"error": {"code": "invalid", "message": message, "details": problems}},
            status_code=422,
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "role": role.value}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """Ready when the database answers; another configured backend that does not
        answer makes it `degraded` (still 200: events wait in the outbox, and so on)."""
        # ClickHouse counts once it holds the analytics store (CH_HOST set).
        clickhouse = ("clickhouse",) if settings.ch_host else ()
        checks = await check_all(
            settings,
            timeout=READY_TIMEOUT,
            backends=READY_BACKENDS + clickhouse,
            engine=request.app.state.db.engine,
        )
        body: dict[str, object] = {
            check.backend: ("ok" if check.reachable else check.detail)
            if check.configured
            else "embedded"
            for check in checks
        }
        body["analytics"] = analytics_port.engine_of(settings.ch_host)
        if checks[0].down:
            return JSONResponse({"status": "unavailable", **body}, status_code=503)
        # Redis answering a probe is not enough: this process may still be on its fallback.
        shared = redis_readiness(getattr(request.app.state, "redis_health", None))
        if shared.get("redis") == "degraded":
            body["redis"] = "degraded"
        down = any(check.down for check in checks) or body.get("redis") == "degraded"
        status = "degraded" if down else "ok"
        return JSONResponse({"status": status, **body})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    for router in APIS.get(role, ()):
        app.include_router(router)
    if role in (Role.all, Role.gateway):
        app.include_router(graphql_router(settings), prefix="/graphql")
    web.install(app, secure_cookies=settings.cookie_secure, routers=PAGES.get(role, ()))
    # Outermost, so that a request turned away costs next to nothing.
    app.add_middleware(
        AdmissionControl,
        limit=settings.admission_limit,
        wait=settings.admission_wait_seconds,
        queue=settings.admission_queue,
    )
    if role in SOCKETS:
        # Outside admission control: a long poll or a websocket holds no request slot.
        app.add_middleware(SocketRoute, server=build_server(app.state, settings.redis_url))
    return app


def service_name(settings: Settings, role: Role, worker: bool) -> str:
    """service.name of this process's spans: OTEL_SERVICE_NAME, else by role (or worker)."""
    return settings.otel_service_name or (
        "certplatform-worker" if worker else f"certplatform-{role.value}"
    )


def events_transport(settings: Settings) -> JetStream | None:
    if not settings.nats_url:
        return None
    delivery = Delivery(
        settings.nats_max_deliver,
        parse_backoff(settings.nats_backoff),
        partitions=settings.nats_partitions,
    )
    return JetStream(settings.nats_url, delivery, namespace=settings.nats_namespace)


def create_role_app() -> FastAPI:
    """uvicorn's factory when it runs several workers: the role comes from SERVE_ROLE."""
    return create_app(role=Role(os.environ.get("SERVE_ROLE", Role.all.value)))


async def relay_events(app: FastAPI) -> int:
    """Relay the outbox once (used after writes and by the background relay)."""
    transport: JetStream | None = app.state.events_transport
    async with app.state.db.sessions() as session:
        if transport:
            return await transport.publish_pending(session)
        return await relay_pending(session, app.state.bus)
