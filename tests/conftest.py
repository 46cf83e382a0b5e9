"""Fixtures: every database test runs on SQLite and on PostgreSQL, from migrated schemas."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
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

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

use_fast_hashing()
import_all_models()


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
def settings(database_url: str, media_dir: Path, mail_dir: Path) -> Settings:
    return Settings(
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
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def db(app: FastAPI) -> AsyncIterator[Database]:
    """The app's database, emptied before each test."""
    database: Database = app.state.db
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
