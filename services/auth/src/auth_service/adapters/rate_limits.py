"""Rate limits for login, registration and refresh, over the `limits` library.

Storage is Redis when `REDIS_URL` is set (shared by every auth replica) and in-process memory
otherwise (the single-process embedded default). Each rule is a list of tiers, e.g.
`5/minute;20/hour;100/day`: a caller who keeps failing moves from minutes to hours of waiting
(a growing back-off), while every window still expires by itself, so nobody can lock a user out
for good. Keys combine account and IP, or IP alone; a successful login clears its account+IP
counters. If the limiter's storage fails, requests go on (logged): rate limiting must never
take login down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from auth_service.errors import RateLimitedError

logger = logging.getLogger(__name__)
MAX_KNOWN_OVER = 100_000
"""Keys remembered as over their limit in this process (`refuse_if_known_over`), at most."""


def parse_tiers(rule: str) -> list[RateLimitItem]:
    """`"5/minute;20/hour"` → the limit items (ValueError when malformed)."""
    return list(parse_many(rule))


class RateLimiter:
    """Counts attempts per (scope, key...) against the tiers configured for the scope."""

    def __init__(
        self,
        storage: Storage,
        rules: Mapping[str, Sequence[RateLimitItem]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._rules = rules
        self._clock = clock
        # (scope, *key) -> when the window its last refused hit ended (clock seconds)
        self._known_over: dict[tuple[str, ...], float] = {}

    @classmethod
    def create(cls, redis_url: str | None, rules: Mapping[str, str]) -> RateLimiter:
        storage: Storage
        if redis_url:
            storage = RedisStorage("async+" + redis_url, implementation="redispy")
        else:
            storage = MemoryStorage()
        return cls(storage, {scope: parse_tiers(rule) for scope, rule in rules.items()})

    async def hit(self, scope: str, *key: str) -> None:
        """Count one attempt; `RateLimitedError` (with seconds to wait) when over a tier."""
        try:
            await self._enforce(scope, key, count=True)
        except RateLimitedError as refused:
            self._remember_over((scope, *key), self._clock() + (refused.retry_after or 1))
            raise

    def refuse_if_known_over(self, scope: str, *key: str) -> None:
        until = self._known_over.get((scope, *key))
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            del self._known_over[(scope, *key)]
            return
        raise RateLimitedError(math.ceil(wait))

    def _remember_over(self, key: tuple[str, ...], until: float) -> None:
        if len(self._known_over) >= MAX_KNOWN_OVER:  # a flood of addresses: keep the live ones
            now = self._clock()
            self._known_over = {k: t for k, t in self._known_over.items() if t > now}
            if len(self._known_over) >= MAX_KNOWN_OVER:
                self._known_over.clear()
        self._known_over[key] = until

    async def check(self, scope: str, *key: str) -> None:
        """`RateLimitedError` if the key is already over a tier, without counting an attempt
        (for limits that count only failures: `check` first, `hit` on failure)."""
        await self._enforce(scope, key, count=False)

    async def _enforce(self, scope: str, key: tuple[str, ...], *, count: bool) -> None:
        retry_after = 0.0
        try:
            for item in self._rules.get(scope, ()):
                allowed = (
                    await self._limiter.hit(item, scope, *key)
                    if count
                    else await self._limiter.test(item, scope, *key)
                )
                if not allowed:
                    stats = await self._limiter.get_window_stats(item, scope, *key)
                    retry_after = max(retry_after, stats.reset_time - self._clock())
        except Exception:  # the limiter's storage is down: serve rather than refuse everyone
            logger.warning("rate limiter unavailable; not limiting", exc_info=True)
            return
        if retry_after > 0:
            raise RateLimitedError(math.ceil(retry_after))

    async def reset(self, scope: str, *key: str) -> None:
        try:
            for item in self._rules.get(scope, ()):
                await self._limiter.clear(item, scope, *key)
        except Exception:
            logger.warning("rate limiter unavailable; could not reset", exc_info=True)
