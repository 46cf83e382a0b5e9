"""Signed-in callers remembered per process, so that a request needs no query to know who
calls (ADR 0020).

A token is looked up in the database once per process and then served from memory until
it expires, for at most `ttl` seconds. Whatever ends or changes a session (sign-out,
password or role change, time zone) calls `revoke_after_commit`: every cache in this process
forgets the user once the change commits, and on PostgreSQL a NOTIFY in the same
transaction tells every other process (each listens on CHANNEL), so a sign-out on one
worker holds on all of them within milliseconds; the ttl bounds a notification lost to a
dropped connection.

With Redis configured (ADR 0022) the revocation travels on a Redis channel instead, after
the commit, and a process whose subscription is down remembers nobody (every request asks
the database) until it is subscribed again: a revocation cannot slip past it meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select

from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.redis import Channel

log = structlog.get_logger(__name__)
CHANNEL = "certplatform_auth"
_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()
_redis_channel: Channel | None = None  # set by the app when REDIS_URL is configured


def use_redis_channel(channel: Channel | None) -> None:
    global _redis_channel
    _redis_channel = channel


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
        self.serving = True  # False while revocations from other processes may be missed
        _caches.add(self)

    def stop_serving(self) -> None:
        self.serving = False
        self._entries.clear()

    def start_serving(self) -> None:
        self._entries.clear()
        self.serving = True

    @staticmethod
    def key(token: str, via: str) -> str:
        return hashlib.sha256(f"{via}:{token}".encode()).hexdigest()

    def get(self, token: str, via: str) -> Principal | None:
        if not self.serving:
            return None
        entry = self._entries.get(self.key(token, via))
        if entry is None:
            return None
        if entry.until < time.monotonic():
            self._entries.pop(self.key(token, via), None)
            return None
        return entry.principal

    def put(self, token: str, via: str, principal: Principal) -> None:
        if not self.serving:
            return
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

    channel = _redis_channel

    async def forget() -> None:
        forget_everywhere_here(user_id)
        if channel is not None and not await channel.publish(user_id):
            # Other processes cannot reach Redis either, or they will clear on reconnect;
            # a process that still can keeps the user for at most the cache's ttl.
            log.warning("principals.revocation_not_shared", user_id=user_id)

    uow.after_commit(forget)
    if channel is None and uow.session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL only if and when the transaction commits.
        await uow.session.execute(select(func.pg_notify(CHANNEL, user_id)))


async def listen_on_redis(channel: Channel, cache: PrincipalCache) -> None:
    """Forget users other processes revoke (Redis channel); runs until cancelled."""

    def subscribed(now: bool) -> None:
        if now:
            cache.start_serving()
        else:
            cache.stop_serving()

    cache.stop_serving()  # until the first subscription stands
    await channel.listen(cache.forget_user, subscribed)


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
