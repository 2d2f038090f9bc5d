"""Rate limits per API key (``MICROMAILER_RATE_LIMIT``, or the key's own ``--rate``).

Every keyed request counts once in a fixed window per limit (``rate_window.py``), in this
process's memory or in Redis when ``MICROMAILER_REDIS_URL`` is set (``rate_store.py``); a batch's
accepted emails beyond the first count one more each (``api/intake/batch.py``). While
authentication is off, each client address has the budget a key would have. Each answer carries
the ``RateLimit`` and ``RateLimit-Policy`` headers (``rate_headers.py``); one over the limit is
refused by the gate with 429 and ``Retry-After``.

A limiter outage never stops email: when Redis fails, requests pass unlimited (fail open), one
WARNING a minute at most says so, and one request tries Redis again every
``MICROMAILER_REDIS_RETRY_INTERVAL`` seconds while the others pass without waiting for it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis
from limits.errors import StorageError

from micromailer.config import Settings
from micromailer.security.principal import Principal
from micromailer.security.rate_headers import (
    RATELIMIT,
    RATELIMIT_POLICY,
    RETRY_AFTER,
    limit_field,
)
from micromailer.security.rate_policy import RatePolicy, cached_rate_limit
from micromailer.security.rate_store import RateStore, memory_store, redis_store
from micromailer.security.rate_window import WindowCount, WindowCounter

log = logging.getLogger(__name__)

#: What a failing storage raises: ``limits`` wraps Redis's errors; the rest is belt and braces.
STORAGE_FAILURES = (StorageError, redis.RedisError, OSError, TimeoutError)
#: Seconds between two warnings while the shared counters stay unreachable.
WARNING_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class RateVerdict:
    """Whether a request may go on, and the headers that tell the client its budget."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Counts each key's requests (each client's, while authentication is off) against its
    limit: ``default`` unless the key has its own."""

    def __init__(
        self,
        default: RatePolicy | None = None,
        store: RateStore | None = None,
        *,
        retry_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.store = store or memory_store()
        self.retry_interval = retry_interval
        self._counter = WindowCounter(self.store.storage, clock)
        self._clock = clock
        self._monotonic = monotonic
        #: While the storage is failing: when one request may try it again.
        self._retry_at: float | None = None
        self._warned_at = -math.inf
        self._bad_rates: set[str] = set()

    async def hit(
        self, principal: Principal, client: str | None, cost: int = 1
    ) -> RateVerdict | None:
        """Count one request, as ``cost`` (a batch's emails beyond the request's own); ``None``
        when no limit applies (or the counters are unreachable)."""
        policy = self._policy(principal)
        if policy is None or self._paused():
            return None
        identity = (
            f"key:{principal.key_name}" if principal.key_name is not None
            else f"client:{client or 'unknown'}"
        )
        try:
            counts = await self._count(policy, identity, cost)
        except STORAGE_FAILURES as exc:
            self._failed(exc)
            return None
        if self._retry_at is not None:
            self._retry_at = None
            log.info("rate limits are counted again: their storage answers")
        return self._verdict(policy, counts)

    async def close(self) -> None:
        """Release the limiter's connections."""
        await self.store.release()

    async def _count(
        self, policy: RatePolicy, identity: str, cost: int
    ) -> Sequence[WindowCount]:
        """One storage call per limit, one after the other: concurrent calls would save a
        round trip's wait but cost more CPU in tasks than they save (bench.rate_limit_cost)."""
        return [await self._counter.hit(quota.item, identity, cost) for quota in policy.quotas]

    def _verdict(self, policy: RatePolicy, counts: Sequence[WindowCount]) -> RateVerdict:
        now = self._clock()
        allowed, retry_after, limits = True, 0, []
        for quota, window in zip(policy.quotas, counts, strict=True):
            reset = max(1, math.ceil(window.ends_at - now))
            left = quota.item.amount - window.count
            if left < 0:
                allowed, retry_after = False, max(retry_after, reset)
            limits.append((quota.label, max(0, left), reset))
        headers = {RATELIMIT_POLICY: policy.policy_header, RATELIMIT: limit_field(limits)}
        if not allowed:
            headers[RETRY_AFTER] = str(retry_after)
        return RateVerdict(allowed, headers)

    def _policy(self, principal: Principal) -> RatePolicy | None:
        """The key's own limit, else the default; a stored limit that no longer parses (it
        predates the check on ``keys create``) falls back to the default, with one WARNING."""
        text = principal.rate_limit
        if text is None:
            return self.default
        try:
            return cached_rate_limit(text)
        except ValueError as exc:
            if text not in self._bad_rates:
                self._bad_rates.add(text)
                log.warning("key %r: %s It gets MICROMAILER_RATE_LIMIT instead; give it a valid "
                            "limit with `micromailer keys create`.", principal.key_name, exc)
            return self.default

    def _paused(self) -> bool:
        """True while the storage is failing and it is not yet time to try it again; when it
        is, this request tries and the next ones wait for the next turn."""
        if self._retry_at is None:
            return False
        now = self._monotonic()
        if now < self._retry_at:
            return True
        self._retry_at = now + self.retry_interval
        return False

    def _failed(self, exc: BaseException) -> None:
        now = self._monotonic()
        self._retry_at = now + self.retry_interval
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        if now - self._warned_at < WARNING_INTERVAL:
            log.debug("rate limits' storage still failing: %s", cause)
            return
        self._warned_at = now
        log.warning(
            "rate limits are not counted: their storage failed (%s: %s); requests pass "
            "unlimited meanwhile, and it is tried again every %g s",
            type(cause).__name__, cause, self.retry_interval,
        )


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """The limiter ``settings`` ask for: shared through Redis when it is configured."""
    default = cached_rate_limit(settings.rate_limit) if settings.rate_limit else None
    store = (
        redis_store(settings.redis_url, timeout=settings.redis_timeout)
        if settings.redis_url else memory_store()
    )
    return RateLimiter(default, store, retry_interval=settings.redis_retry_interval)


__all__ = ["STORAGE_FAILURES", "RateLimiter", "RateVerdict", "build_rate_limiter"]
