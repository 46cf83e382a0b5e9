"""Database plumbing: the declarative base, UTC timestamps, engines and the unit of work."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# For optional documents: Python None is stored as SQL NULL (not JSON null), so that
# `IS NULL` finds it.
NullableJSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A fixed pool (the same 20 connections at most as 10 + 10 overflow): overflow
    # connections are closed on return, so under load they were reopened again and again
    # (a new connection costs ~5 ms of CPU and ~20 ms before its first query).
    # No pre-ping (a round trip per checkout): a connection the server dropped (a restart, a
    # failover) fails its statement once, SQLAlchemy sees the disconnect and invalidates the
    # whole pool, and the next checkouts connect afresh (tests/kernel/test_postgres_restart.py).
    # A server that does not answer a connect fails it after CONNECT_TIMEOUT_S, not 60 s.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        connect_args={"timeout": CONNECT_TIMEOUT_S},
    )


CONNECT_TIMEOUT_S = 5.0
# asyncpg's errors for a server that is going, gone or not back yet (by name: no import here).
_UNAVAILABLE_NAMES = frozenset(
    {
        "AdminShutdownError",  # 57P01: shut down (pg_ctl stop, a failover)
        "CrashShutdownError",  # 57P02
        "CannotConnectNowError",  # 57P03: starting up or shutting down
        "ConnectionDoesNotExistError",  # the connection was lost mid-statement
        "ConnectionFailureError",  # class 08
        "ClientCannotConnectError",
        "PostgresConnectionError",
        # A pooled connection the server dropped while it was still reading an error's
        # tail, handed out again before asyncpg saw the socket close (seen mid-shutdown).
        "InternalClientError",
    }
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable or dropped the connection (not a bug or
    a constraint): the request can be answered 503, to be retried."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, ConnectionError | socket.gaierror):
            return True
        if type(current).__name__ in _UNAVAILABLE_NAMES:
            return True
        orig = getattr(current, "orig", None) if isinstance(current, DBAPIError) else None
        current = orig or current.__cause__ or current.__context__
        seen += 1
    return False


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the one writer; synchronous=FULL keeps every
    # acknowledged commit on disk even if the process is killed.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """One transaction per request or job; side effects wait for a successful commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        self._after_commit.append(hook)

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            await hook()

    async def rollback(self) -> None:
        self._after_commit.clear()
        await self.session.rollback()


class Database:
    """The engine and session factory of one process, built in the app's lifespan."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """Commit when the block succeeds, roll back when it raises."""
        async with self.sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
            except BaseException:
                await uow.rollback()
                raise
            await uow.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
