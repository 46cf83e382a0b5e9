"""Moving-window rate limits (library `limits`): in memory embedded, in Redis when set, so
that every process of a split deployment counts against the same window."""

from __future__ import annotations

import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from certplatform.kernel.errors import TooManyRequests


def storage_url(redis_url: str | None) -> str:
    return "async+" + redis_url if redis_url else "async+memory://"


class RateLimit:
    """At most `rate` (e.g. "30/minute") hits per key in a moving window."""

    def __init__(self, rate: str, namespace: str, storage: str = "async+memory://") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage))
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
