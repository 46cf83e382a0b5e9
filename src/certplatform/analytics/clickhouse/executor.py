"""Two ways to run ClickHouse SQL: a server over HTTP (clickhouse-connect, `CH_HOST`) or an
embedded chdb session (tests, the bench, single-machine use). The store above them only
sends finished SQL text and rows to insert, so both run exactly the same statements.

Both are blocking; the store calls them from a worker thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit


class Executor(Protocol):
    def query(self, sql: str, settings: Mapping[str, int]) -> list[tuple[Any, ...]]: ...

    def command(self, sql: str) -> None: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...


class ChdbExecutor:
    """An embedded ClickHouse (chdb) session whose tables live in `path`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._session: Any = None
        self._lock = threading.Lock()  # one statement at a time per session

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            if self._session is None:  # opened on first use, like the server's client
                from chdb import session

                open_session: Any = session.Session  # chdb ships no type hints
                self._session = open_session(self.path)
            return self._session.query(sql, fmt)

    def query(self, sql: str, settings: Mapping[str, int]) -> list[tuple[Any, ...]]:
        if settings:
            sql += " SETTINGS " + ", ".join(f"{k} = {int(v)}" for k, v in settings.items())
        table = self._run(sql, "ArrowTable")
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def command(self, sql: str) -> None:
        self._run(sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        # JSONEachRow: ClickHouse parses the values; nothing is spliced into SQL.
        lines = "\n".join(
            json.dumps(dict(zip(columns, map(_json_value, row), strict=True)), ensure_ascii=False)
            for row in rows
        )
        self._run(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow\n{lines}")

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return wire_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def wire_time(value: datetime) -> str:
    """UTC with microseconds (the relational stores' precision), as the DateTime64(6, 'UTC')
    columns parse it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _aware(value: Any) -> Any:
    # Depending on the server's zone settings the client may hand back naive UTC times.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ConnectExecutor:
    """A ClickHouse server through clickhouse-connect's HTTP client, connected on first
    use (so a process starts, and reports the server down, while ClickHouse is away)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls, target: str, user: str = "default", password: str = "", database: str = "default"
    ) -> ConnectExecutor:
        """`CH_HOST` as a host name (HTTP port 8123) or a URL whose user, password and
        database, when given, override the others: `https://user:password@host:8443/db`."""
        parts = urlsplit(target if "://" in target else f"http://{target}")
        secure = parts.scheme == "https"

        def connect() -> Any:
            import clickhouse_connect

            return clickhouse_connect.get_client(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (8443 if secure else 8123),
                username=unquote(parts.username) if parts.username else user,
                password=unquote(parts.password) if parts.password else password,
                database=parts.path.strip("/") or database,
                secure=secure,
                # No server session: the client may then serve several threads at once.
                autogenerate_session_id=False,
            )

        return cls(connect)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def query(self, sql: str, settings: Mapping[str, int]) -> list[tuple[Any, ...]]:
        result = self.client.query(sql, settings=dict(settings))
        return [tuple(map(_aware, row)) for row in result.result_rows]

    def command(self, sql: str) -> None:
        self.client.command(sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.client.insert(table, [list(r) for r in rows], column_names=list(columns))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
