"""Redis when `REDIS_URL` is set (ADR 0022): what every process of a deployment shares.

Redis is a helper, never a dependency the app cannot serve without. `RedisHealth` follows
whether this process reaches it: the first failure is logged once and the process falls back
(rate limits count per process, remembered sign-ins are not used); one call per `retry_s`
tries Redis again, and the first success logs the recovery and shares again. `/readyz`
shows the state through `redis_readiness(app.state.redis_health)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage

log = structlog.get_logger(__name__)

# What a lost or refused connection raises through redis-py (its errors, sockets, timeouts).
try:
    from redis.exceptions import RedisError

    UNAVAILABLE: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency; keeps the embedded shape lean
    UNAVAILABLE = (OSError, TimeoutError)

# Fail fast: a request must not wait on a Redis that does not answer.
CLIENT_OPTIONS: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


class RedisHealth:
    """Whether this process reaches Redis now; transitions are logged once each."""

    def __init__(self, url: str, retry_s: float = 1.0) -> None:
        self.url = url
        self.retry_s = retry_s
        self.up = True
        self.since = time.monotonic()
        self._next_try = 0.0

    def should_try(self) -> bool:
        """Up, or down long enough that one caller may try again."""
        if self.up:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_s
        return True

    def failed(self, exc: BaseException) -> None:
        self._next_try = time.monotonic() + self.retry_s
        if self.up:
            self.up = False
            self.since = time.monotonic()
            log.warning("redis.unavailable", error=str(exc) or type(exc).__name__)

    def succeeded(self) -> None:
        if not self.up:
            self.up = True
            self.since = time.monotonic()
            log.info("redis.recovered")


def redis_readiness(health: RedisHealth | None) -> dict[str, str]:
    """For `/readyz`: {"redis": "ok" | "degraded"}, or {} when Redis is not configured.

    Degraded is not unready: the process serves on with per-process fallbacks."""
    if health is None:
        return {}
    return {"redis": "ok" if health.up else "degraded"}


class SharedLimitStorage(Storage, MovingWindowSupport):
    """`limits` storage: Redis while it answers, this process's memory while it does not.

    Counts made in memory during an outage stay in memory; when Redis returns, windows
    continue from what Redis holds (a short outage may let a few more hits through, never
    turn a request away that Redis would have let in)."""

    STORAGE_SCHEME = None

    def __init__(self, redis_url: str, key_prefix: str, health: RedisHealth) -> None:
        super().__init__()
        self.health = health
        self.shared = RedisStorage(
            "async+" + redis_url, implementation="redispy", key_prefix=key_prefix, **CLIENT_OPTIONS
        )
        self.local = MemoryStorage()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # nothing escapes: every failure of Redis falls back to memory

    async def _call(self, method: str, *args: Any) -> Any:
        if self.health.should_try():
            try:
                result = await getattr(self.shared, method)(*args)
            except UNAVAILABLE as exc:
                self.health.failed(exc)
            else:
                self.health.succeeded()
                return result
        return await getattr(self.local, method)(*args)

    async def close(self) -> None:
        client: Any = getattr(self.shared.bridge, "storage", None)  # the redis-py client
        if client is not None:
            with contextlib.suppress(*UNAVAILABLE):
                await client.aclose()

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(await self._call("incr", key, expiry, amount))

    async def get(self, key: str) -> int:
        return int(await self._call("get", key))

    async def get_expiry(self, key: str) -> float:
        return float(await self._call("get_expiry", key))

    async def check(self) -> bool:
        return bool(await self._call("check"))

    async def reset(self) -> int | None:
        local = await self.local.reset()
        try:
            return await self.shared.reset()
        except UNAVAILABLE as exc:
            self.health.failed(exc)
            return local

    async def clear(self, key: str) -> None:
        await self._call("clear", key)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return bool(await self._call("acquire_entry", key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        start, count = await self._call("get_moving_window", key, limit, expiry)
        return float(start), int(count)


class Channel:
    """One Redis pub/sub channel: publish from any process, listen in every process."""

    def __init__(self, url: str, name: str, health: RedisHealth) -> None:
        import redis.asyncio as aioredis

        self.name = name
        self.health = health
        self._url = url
        self._client = aioredis.Redis.from_url(url, **CLIENT_OPTIONS)

    async def publish(self, message: str) -> bool:
        """Best effort: False when Redis did not take it (the failure is recorded)."""
        try:
            await self._client.publish(self.name, message)
        except UNAVAILABLE as exc:
            self.health.failed(exc)
            return False
        self.health.succeeded()
        return True

    async def listen(
        self,
        on_message: Callable[[str], None],
        on_subscribed: Callable[[bool], None],
        retry_s: float = 1.0,
    ) -> None:
        """Call `on_message` for each message until cancelled; `on_subscribed(False)` as soon
        as the subscription is lost (messages may be missed from then on), `(True)` once it
        is back."""
        import redis.asyncio as aioredis

        while True:
            # No read timeout here: a quiet channel is not a dead one (health checks ping).
            client = aioredis.Redis.from_url(
                self._url, socket_connect_timeout=0.5, health_check_interval=5
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.name)
                on_subscribed(True)
                self.health.succeeded()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is not None and message["type"] == "message":
                        data = message["data"]
                        on_message(data.decode() if isinstance(data, bytes) else str(data))
            except UNAVAILABLE as exc:
                on_subscribed(False)
                self.health.failed(exc)
            finally:
                with contextlib.suppress(*UNAVAILABLE):
                    await pubsub.aclose()
                with contextlib.suppress(*UNAVAILABLE):
                    await client.aclose()
            await asyncio.sleep(retry_s)

    async def close(self) -> None:
        with contextlib.suppress(*UNAVAILABLE):
            await self._client.aclose()
