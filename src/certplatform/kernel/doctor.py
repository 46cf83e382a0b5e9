"""Which backends this deployment is configured for, whether each answers, and its version.

`certplatform doctor` prints it; `/readyz` checks the backends a serving process needs with
a short timeout. The probes speak each server's own protocol just far enough to learn its
version (Redis INFO, the NATS INFO greeting, ClickHouse's HTTP interface ...), so they
need no client library and never change anything on the server.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from certplatform.kernel.db import create_engine
from certplatform.kernel.settings import Settings

BACKENDS = ("database", "redis", "nats", "s3", "clickhouse", "otlp")
# What a serving process cannot do its work without, or does worse without (ADR 0021).
READY_BACKENDS = ("database", "redis", "nats", "s3")
FALLBACKS = {
    "database": "SQLite file (DATABASE_URL unset)",
    "redis": "in-process rate limits, caches and job broker (one process only)",
    "nats": "in-process event bus: the relay hands events to handlers in this process",
    "s3": "media on the local disk (MEDIA_DIR)",
    "clickhouse": "analytics in the application database",
    "otlp": "no trace export",
}


@dataclass(frozen=True)
class Check:
    backend: str
    configured: bool
    target: str | None  # the address, without credentials
    reachable: bool | None  # None: not configured, nothing to reach
    version: str | None
    detail: str
    fallback: str

    @property
    def down(self) -> bool:
        return self.configured and not self.reachable

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def otlp_endpoint() -> str | None:
    # The OpenTelemetry SDK reads this variable itself; it is not one of our settings.
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def configured_target(backend: str, settings: Settings) -> str | None:
    return {
        "database": settings.database_url,
        "redis": settings.redis_url,
        "nats": settings.nats_url,
        "s3": settings.s3_endpoint,
        "clickhouse": settings.ch_host,
        "otlp": otlp_endpoint(),
    }[backend]


def redact(url: str) -> str:
    """The URL without a password: `redis://:secret@host` → `redis://***@host`."""
    if "://" not in url:
        return url
    if url.startswith(("postgres", "sqlite")):
        return make_url(url).render_as_string(hide_password=True)
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


async def check_all(
    settings: Settings,
    *,
    timeout: float = 2.0,  # noqa: ASYNC109 - each probe gets its own
    backends: tuple[str, ...] = BACKENDS,
    engine: AsyncEngine | None = None,
) -> list[Check]:
    """Probe the backends side by side; each gets `timeout` seconds."""
    return list(
        await asyncio.gather(
            *(_check(name, settings, timeout, engine) for name in backends),
        )
    )


async def _check(
    backend: str,
    settings: Settings,
    timeout: float,  # noqa: ASYNC109 - one probe's share, not the caller's
    engine: AsyncEngine | None,
) -> Check:
    target = configured_target(backend, settings)
    fallback = FALLBACKS[backend]
    database_default = backend == "database" and "database_url" not in settings.model_fields_set
    if not target:
        return Check(backend, False, None, None, None, f"not set: {fallback}", fallback)
    probe: Callable[[], Awaitable[str | None]] = {
        "database": lambda: _database_version(settings.async_database_url, engine),
        "redis": lambda: _redis_version(target),
        "nats": lambda: _nats_version(target),
        "s3": lambda: _http_server(target),
        "clickhouse": lambda: _clickhouse_version(target, settings.ch_user, settings.ch_password),
        "otlp": lambda: _tcp_open(target),
    }[backend]
    try:
        version = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        silent = f"no answer in {timeout} s"
        return Check(backend, True, redact(target), False, None, silent, fallback)
    except Exception as exc:  # any failure to reach it is the answer, not a crash
        return Check(backend, True, redact(target), False, None, _reason(exc), fallback)
    detail = "reachable (the embedded default)" if database_default else "reachable"
    return Check(backend, True, redact(target), True, version, detail, fallback)


def _reason(exc: BaseException) -> str:
    text_ = str(exc) or type(exc).__name__
    return text_.splitlines()[0][:300]


async def _database_version(url: str, engine: AsyncEngine | None) -> str | None:
    own = engine is None
    if own and url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and not await asyncio.to_thread(Path(path).exists):
            return f"SQLite {sqlite3.sqlite_version} (the file is created on first use)"
    engine = engine or create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
                return f"SQLite {version}"
            server = (await conn.execute(text("SHOW server_version"))).scalar()
            return f"PostgreSQL {server}"
    finally:
        if own:
            await engine.dispose()


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def _redis_version(url: str) -> str | None:
    host, port = _host_port(url, 6379)
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if parts.password:
            user = parts.username or "default"
            writer.write(_resp("AUTH", user, parts.password))
            if not (await reader.readline()).startswith(b"+OK"):
                raise PermissionError("Redis refused the credentials")
        writer.write(_resp("INFO", "server"))
        await writer.drain()
        header = await reader.readline()  # $<length>
        if not header.startswith(b"$"):
            raise ConnectionError(header.decode(errors="replace").strip() or "no reply")
        body = await reader.readexactly(int(header[1:]) + 2)
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("redis_version:"):
                return "Redis " + line.split(":", 1)[1]
        return None
    finally:
        writer.close()


def _resp(*words: str) -> bytes:
    out = f"*{len(words)}\r\n"
    for word in words:
        out += f"${len(word.encode())}\r\n{word}\r\n"
    return out.encode()


async def _nats_version(url: str) -> str | None:
    host, port = _host_port(url.split(",")[0], 4222)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        greeting = await reader.readline()  # INFO {...}: the server speaks first
        if not greeting.startswith(b"INFO "):
            raise ConnectionError("not a NATS server")
        info = json.loads(greeting[5:])
        jetstream = "JetStream" if info.get("jetstream") else "no JetStream"
        return f"NATS {info.get('version')} ({jetstream})"
    finally:
        writer.close()


async def _http_server(url: str) -> str | None:
    async with httpx.AsyncClient() as http:
        reply = await http.get(url)
    server: str | None = reply.headers.get("server")
    return server


EMBEDDED_CLICKHOUSE = "chdb:"


def analytics_store(settings: Settings) -> dict[str, str | None]:
    """Where the analytics store lives (ADR 0031): ClickHouse once CH_HOST is set."""
    if settings.ch_host:
        return {"engine": "clickhouse", "target": redact(settings.ch_host)}
    return {"engine": "database", "target": None}


async def _clickhouse_version(target: str, user: str = "default", password: str = "") -> str | None:
    if target.startswith(EMBEDDED_CLICKHOUSE):
        # In-process ClickHouse: nothing to reach; it needs the chdb package and a folder.
        return f"chdb {importlib.metadata.version('chdb')} (embedded ClickHouse)"
    url = target if "://" in target else f"http://{target}:8123"
    parts = urlsplit(url)
    # The analytics store's own account (a URL's user:password wins, as in the store).
    auth = None if parts.username else (user, password)
    url = parts._replace(path="/").geturl()  # the database part is not an HTTP path
    async with httpx.AsyncClient(auth=auth) as http:
        reply = await http.get(url, params={"query": "SELECT version()"})
    return "ClickHouse " + reply.text.strip() if reply.status_code == 200 else None


async def _tcp_open(url: str) -> str | None:
    host, port = _host_port(url, 4317)
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    return None
