"""Signed-in callers remembered per process, so that a request needs no query to know who
calls (ADR 0020).

A token is looked up in the database once per process and then served from memory until
it expires, for at most `ttl` seconds. Whatever ends or changes a session (sign-out,
password or role change, time zone) calls `revoke_after_commit`: every cache in this process
forgets the user once the change commits, and on PostgreSQL a NOTIFY in the same
transaction tells every other process (each listens on CHANNEL), so a sign-out on one
worker holds on all of them within milliseconds; the ttl bounds a notification lost to a
dropped connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select

from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow

CHANNEL = "certplatform_auth"
_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    until: float  # monotonic deadline: the ttl or the session's expiry, whichever is first


class PrincipalCache:
    """token hash → principal, bounded in size and age."""

    def __init__(self, ttl: float = 60.0, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        _caches.add(self)

    @staticmethod
    def key(token: str, via: str) -> str:
        return hashlib.sha256(f"{via}:{token}".encode()).hexdigest()

    def get(self, token: str, via: str) -> Principal | None:
        entry = self._entries.get(self.key(token, via))
        if entry is None:
            return None
        if entry.until < time.monotonic():
            self._entries.pop(self.key(token, via), None)
            return None
        return entry.principal

    def put(self, token: str, via: str, principal: Principal) -> None:
        until = time.monotonic() + self.ttl
        if principal.expires_at is not None:
            left = (principal.expires_at - utcnow()).total_seconds()
            until = min(until, time.monotonic() + left)
        self._entries[self.key(token, via)] = _Entry(principal, until)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: str) -> None:
        for key in [k for k, e in self._entries.items() if e.principal.user_id == user_id]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


def forget_everywhere_here(user_id: str) -> None:
    for cache in list(_caches):
        cache.forget_user(user_id)


async def revoke_after_commit(uow: UnitOfWork, user_id: str) -> None:
    """Drop the user's remembered sessions in every process once this transaction commits."""

    async def forget() -> None:
        forget_everywhere_here(user_id)

    uow.after_commit(forget)
    if uow.session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL only if and when the transaction commits.
        await uow.session.execute(select(func.pg_notify(CHANNEL, user_id)))


async def listen_for_revocations(dsn: str, cache: PrincipalCache, retry_s: float = 2.0) -> None:
    """Forget users other processes revoke (PostgreSQL LISTEN); runs until cancelled.

    After a lost connection the cache is cleared: notifications may have been missed."""
    import asyncpg

    def on_notify(_conn: object, _pid: int, _channel: str, user_id: str) -> None:
        cache.forget_user(user_id)

    while True:
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(retry_s)
            continue
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _conn, done=closed: done.set())
        try:
            await conn.add_listener(CHANNEL, on_notify)
            cache.clear()
            await closed.wait()
        finally:
            cache.clear()
            if not conn.is_closed():
                await conn.close()
