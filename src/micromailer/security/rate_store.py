"""Where the rate-limit counters live: this process's memory, or Redis shared by every API.

Both are ``limits``' async storages (``limits.aio.storage``), so no call blocks the event loop.
The Redis one runs on redis-py's own asyncio client (``implementation="redispy"``; redis-py is
already the health board's client) through a connection pool made here: short timeouts
(``MICROMAILER_REDIS_TIMEOUT``) and no retries, because the limiter has its own plan when Redis
fails (``rate_limit.py``: the requests pass).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

#: Every counter's Redis key starts with this (then ``limits``' own ``LIMITER/<identity>/…``).
KEY_PREFIX = "micromailer:ratelimit"


@dataclass(frozen=True, slots=True)
class RateStore:
    """A storage for the counters, whether it is shared, and how to let it go."""

    storage: Storage
    shared: bool
    release: Callable[[], Awaitable[None]]


def memory_store() -> RateStore:
    """Counters in this process: each API process counts on its own."""
    return RateStore(MemoryStorage(), shared=False, release=_nothing)


def redis_store(url: str, *, timeout: float, key_prefix: str = KEY_PREFIX) -> RateStore:
    """Counters in the Redis at ``url``, shared by every API process using it.

    Nothing connects yet: the first request does, on its own event loop.
    """
    pool = ConnectionPool.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    # ``limits`` types its pass-through options as scalars; a pool is what redis-py takes.
    options: dict[str, Any] = {"connection_pool": pool}
    storage = RedisStorage(
        _limits_uri(url), implementation="redispy", wrap_exceptions=True,
        key_prefix=key_prefix, **options,
    )
    return RateStore(storage, shared=True, release=pool.aclose)


def _limits_uri(url: str) -> str:
    """``limits``' name for the same server: ``async+redis://…``, ``async+redis+unix://…``."""
    if url.startswith("unix://"):
        return "async+redis+" + url
    return "async+" + url


async def _nothing() -> None:
    return None


__all__ = ["KEY_PREFIX", "RateStore", "memory_store", "redis_store"]
