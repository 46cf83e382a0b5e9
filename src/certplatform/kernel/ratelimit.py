"""Moving-window rate limits (library `limits`): in memory embedded, in Redis when set, so
that every process of a split deployment counts against the same window."""

from __future__ import annotations

import time

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from certplatform.kernel.errors import TooManyRequests
from certplatform.kernel.redis import RedisHealth, SharedLimitStorage


def storage_url(redis_url: str | None) -> str:
    return "async+" + redis_url if redis_url else "async+memory://"


def shared_storage(
    redis_url: str | None, key_prefix: str, health: RedisHealth | None
) -> Storage | str:
    """Where limits count: Redis shared by all processes (with a per-process fallback while
    it is down), or this process's memory when no Redis is configured."""
    if redis_url is None or health is None:
        return "async+memory://"
    return SharedLimitStorage(redis_url, key_prefix + "limits", health)


def as_storage(storage: Storage | str) -> Storage:
    if isinstance(storage, str):
        found = storage_from_string(storage)
        if not isinstance(found, Storage):
            raise TypeError(f"{storage!r} is not an async storage (async+...)")
        return found
    return storage


class RateLimit:
    """At most `rate` (e.g. "30/minute") hits per key in a moving window."""

    def __init__(
        self, rate: str, namespace: str, storage: Storage | str = "async+memory://"
    ) -> None:
        self._limiter = MovingWindowRateLimiter(as_storage(storage))
        self._item = parse(rate)
        self._namespace = namespace
        self.rate = rate

    async def hit(self, key: str, message: str) -> None:
        """Count one hit for `key`; raise 429 with Retry-After when the window is full."""
        if await self._limiter.hit(self._item, self._namespace, key):
            return
        stats = await self._limiter.get_window_stats(self._item, self._namespace, key)
        raise TooManyRequests(message, retry_after=max(1, int(stats.reset_time - time.time()) + 1))

    async def reset(self) -> None:
        await self._limiter.storage.reset()
