"""Fixtures: every database test runs on SQLite and on PostgreSQL, from migrated schemas.

`TEST_SHAPE=distributed` runs the end-to-end tests again with every backend on (NATS,
Redis, S3, a worker process) on PostgreSQL: see tests/support/shapes.py and ADR 0034.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from certplatform.app import create_app
from certplatform.identity.service import use_fast_hashing
from certplatform.kernel import migrate
from certplatform.kernel.db import Base, Database
from certplatform.kernel.settings import Settings, to_async_url
from certplatform.kernel.storage import LocalStorage
from certplatform.models import import_all_models
from tests.support.shapes import (
    DISTRIBUTED_SHAPE,
    SHAPE,
    Services,
    delete_streams,
    runs_in_distributed_shape,
    services,
    settled,
    start_worker,
    stop_worker,
    until_consuming,
)

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = os.environ.get(
    "TEST_BACKENDS", "postgresql" if DISTRIBUTED_SHAPE else "sqlite,postgresql"
).split(",")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

use_fast_hashing()
import_all_models()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "distributed_only: runs in the distributed shape only (TEST_SHAPE)"
    )


def pytest_report_header() -> str:
    return f"shape: {SHAPE}, database backends: {','.join(BACKENDS)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The distributed shape runs the tests of the app under test (see shapes.EMBEDDED_ONLY);
    the embedded shape leaves out the tests that need the distributed one."""
    if DISTRIBUTED_SHAPE:
        keep = [
            item
            for item in items
            if runs_in_distributed_shape(item.nodeid, getattr(item, "fixturenames", []))
        ]
    else:
        keep = [item for item in items if item.get_closest_marker("distributed_only") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def shared_data() -> Path:
    """The read-only sample data beside the checkout (../shared/data)."""
    return Path(os.environ.get("SHARED_DATA", SHARED_DATA))


async def _postgres(create: bool) -> str:
    """Create (or drop) this run's own database beside TEST_DATABASE_URL's, so that
    several test runs on one server never share or drop each other's data."""
    url = make_url(to_async_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)))
    name = f"{url.database}_certplatform_{os.getpid()}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A freshly migrated database; `alembic check` proves models and migrations agree."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = await _postgres(create=True)
    await asyncio.to_thread(migrate.upgrade, url)
    await asyncio.to_thread(migrate.check, url)
    yield url
    if request.param != "sqlite":
        await _postgres(create=False)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def run_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services | None]:
    """The distributed shape's backends (None when embedded)."""
    if not DISTRIBUTED_SHAPE:
        yield None
        return
    with services(tmp_path_factory.mktemp("services")) as found:
        yield found


@pytest.fixture(scope="session")
def settings(
    database_url: str, media_dir: Path, mail_dir: Path, run_services: Services | None
) -> Settings:
    # Embedded means embedded even where the environment names backends (CI sets some).
    embedded = {"REDIS_URL": None, "NATS_URL": None, "S3_ENDPOINT": None}
    backends = run_services.settings() if run_services else embedded
    return Settings(  # type: ignore[call-arg]
        **backends,
        MAIL_BACKEND="file",
        MAIL_DIR=mail_dir,
        APP_ENV="test",
        DATABASE_URL=database_url,
        MEDIA_DIR=media_dir,
        LOGIN_LIMIT_ACCOUNT_IP="5/minute",
        LOGIN_LIMIT_ACCOUNT="12/minute",
        LOGIN_LIMIT_IP="1000/minute",
        SIGNUP_LIMIT_IP="5/minute",
        LOG_LEVEL="WARNING",
        EVENT_RELAY_INTERVAL=0,  # tests relay the outbox explicitly
        SWEEPER_INTERVAL=0,  # and run the deadline sweeper explicitly
        CLEANUP_INTERVAL=0,  # and clean-up jobs
        CALIBRATION_INTERVAL=0,  # and item calibrations
        AUDIT_CHECKPOINT_INTERVAL=0,  # and write audit checkpoints explicitly
    )


@pytest_asyncio.fixture(scope="session")
async def app(
    settings: Settings,
    run_services: Services | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        if run_services is None:
            yield application
            return
        # Distributed: this process publishes and enqueues; a worker process handles.
        log = tmp_path_factory.mktemp("worker") / "worker.log"
        worker = start_worker(settings, log)
        try:
            await until_consuming(
                application.state.events_transport,
                {topic.split(".")[1] for topic in application.state.bus.topics},
                worker,
                log,
            )
            application.state.worker_log = log
            yield application
        finally:
            stop_worker(worker)
            await delete_streams(run_services)


@pytest_asyncio.fixture
async def db(app: FastAPI) -> AsyncIterator[Database]:
    """The app's database, emptied before each test."""
    database: Database = app.state.db
    if app.state.events_transport is not None:
        # The worker is done with the last test's events before their rows go.
        await settled(app.state.events_transport)
    await _truncate(database)
    app.state.principals.clear()  # the sessions it remembers were just deleted
    await app.state.login_limiter.reset()
    await app.state.recovery_limits.reset()
    yield database


async def _truncate(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as conn:
        if database.is_sqlite:
            # Append-only tables refuse DELETE by trigger: lift the triggers for the wipe,
            # then create them again from the SQL that SQLite kept for them.
            triggers = (
                await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'"))
            ).all()
            for trigger, _ in triggers:
                await conn.execute(text(f'DROP TRIGGER "{trigger}"'))
            for name in [*tables, "question_search"]:
                await conn.execute(text(f'DELETE FROM "{name}"'))
            for _, sql in triggers:
                await conn.exec_driver_sql(sql)
        else:
            names = ", ".join(f'"{n}"' for n in [*tables, "question_search"])
            await conn.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest_asyncio.fixture
async def client(app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def storage(app: FastAPI) -> LocalStorage:
    store: LocalStorage = app.state.storage
    return store


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
