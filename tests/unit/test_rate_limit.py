"""The rate limiter on in-memory counters: budgets per key and per client, the key's own limit,
the answer headers' exact values, and what a failing storage does (the requests pass)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from micromailer.config import Settings
from micromailer.security.principal import OPEN, Principal
from micromailer.security.rate_limit import RateLimiter, RateVerdict, build_rate_limiter
from micromailer.security.rate_policy import parse_rate_limit
from micromailer.security.rate_store import RateStore, memory_store
from micromailer.security.rate_window import WindowCounter

ALPHA = Principal(key_name="alpha", project="alpha", admin=False)
BETA = Principal(key_name="beta", project="beta", admin=False)


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(default: str | None, store: RateStore | None = None, **options: Any) -> RateLimiter:
    return RateLimiter(parse_rate_limit(default) if default else None, store, **options)


def hits(rate: RateLimiter, principal: Principal, n: int, client: str = "10.0.0.1",
         ) -> list[RateVerdict | None]:
    async def run() -> list[RateVerdict | None]:
        return [await rate.hit(principal, client) for _ in range(n)]

    return asyncio.run(run())


def allowed(verdicts: list[RateVerdict | None]) -> list[bool]:
    return [verdict is not None and verdict.allowed for verdict in verdicts]


def test_the_limit_lets_its_amount_through_then_refuses_with_retry_after() -> None:
    verdicts = hits(limiter("3/minute"), ALPHA, 5)

    assert allowed(verdicts) == [True, True, True, False, False]
    refused = verdicts[3]
    assert refused is not None
    assert refused.headers["RateLimit"].startswith('"per-minute";r=0;t=')
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert "Retry-After" not in (verdicts[0] or RateVerdict(True)).headers


def test_headers_say_the_policy_what_is_left_and_when_the_window_ends() -> None:
    clock = Clock()
    verdicts = hits(limiter("3/minute", clock=clock), ALPHA, 4)

    assert [v.headers if v else None for v in verdicts] == [
        {"RateLimit-Policy": '"per-minute";q=3;w=60', "RateLimit": '"per-minute";r=2;t=60'},
        {"RateLimit-Policy": '"per-minute";q=3;w=60', "RateLimit": '"per-minute";r=1;t=60'},
        {"RateLimit-Policy": '"per-minute";q=3;w=60', "RateLimit": '"per-minute";r=0;t=60'},
        {"RateLimit-Policy": '"per-minute";q=3;w=60', "RateLimit": '"per-minute";r=0;t=60',
         "Retry-After": "60"},
    ]


def test_the_window_end_counts_down_in_whole_seconds_rounded_up() -> None:
    clock = Clock()
    rate = limiter("2/minute", clock=clock)
    hits(rate, ALPHA, 1)
    clock.now += 42.5  # the storage's own clock did not move: the window is still open
    (second, third) = hits(rate, ALPHA, 2)

    assert second is not None and second.headers["RateLimit"] == '"per-minute";r=0;t=18'
    assert third is not None and third.headers["Retry-After"] == "18"


def test_several_limits_are_counted_together_and_the_longest_wait_is_retry_after() -> None:
    clock = Clock()
    verdicts = hits(limiter("2/second;3/hour", clock=clock), ALPHA, 4)

    assert allowed(verdicts) == [True, True, False, False]
    assert verdicts[0] is not None and verdicts[0].headers == {
        "RateLimit-Policy": '"per-second";q=2;w=1, "per-hour";q=3;w=3600',
        "RateLimit": '"per-second";r=1;t=1, "per-hour";r=2;t=3600',
    }
    assert verdicts[3] is not None and verdicts[3].headers["Retry-After"] == "3600"


def test_a_keys_own_rate_overrides_the_default() -> None:
    strict = Principal(key_name="batch", project="batch", admin=False, rate_limit="1/minute")
    rate = limiter("100/minute")

    verdicts = hits(rate, strict, 2)

    assert allowed(verdicts) == [True, False]
    assert verdicts[0] is not None
    assert verdicts[0].headers["RateLimit-Policy"] == '"per-minute";q=1;w=60'


def test_a_keys_own_rate_applies_without_any_default() -> None:
    own = Principal(key_name="batch", project="batch", admin=False, rate_limit="5 per 2 minutes")
    (verdict,) = hits(limiter(None), own, 1)

    assert verdict is not None and verdict.allowed
    assert verdict.headers["RateLimit-Policy"] == '"per-2-minutes";q=5;w=120'


def test_each_key_has_a_budget_of_its_own() -> None:
    rate = limiter("2/minute")

    assert allowed(hits(rate, ALPHA, 3)) == [True, True, False]
    assert allowed(hits(rate, BETA, 3)) == [True, True, False]


def test_with_authentication_off_each_client_address_has_a_budget() -> None:
    rate = limiter("2/minute")

    assert allowed(hits(rate, OPEN, 3, client="10.0.0.1")) == [True, True, False]
    assert allowed(hits(rate, OPEN, 2, client="10.0.0.2")) == [True, True]
    assert allowed(hits(rate, OPEN, 1, client="10.0.0.1")) == [False]
    # a key's budget is not an address's, even from the same address
    assert allowed(hits(rate, ALPHA, 1, client="10.0.0.1")) == [True]


def test_no_setting_and_no_rate_of_its_own_means_no_limit_and_no_headers() -> None:
    assert hits(limiter(None), ALPHA, 3) == [None, None, None]
    assert hits(limiter(None), OPEN, 1) == [None]
    assert hits(build_rate_limiter(Settings(rate_limit=None)), ALPHA, 1) == [None]


def test_a_stored_rate_that_no_longer_parses_gets_the_default_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = Principal(key_name="old", project="old", admin=False, rate_limit="lots")
    with caplog.at_level(logging.WARNING, logger="micromailer.security.rate_limit"):
        verdicts = hits(limiter("1/minute"), odd, 2)

    assert allowed(verdicts) == [True, False]
    assert len([r for r in caplog.records if "'old'" in r.getMessage()]) == 1


def test_the_count_is_the_one_limits_fixed_window_keeps() -> None:
    """Canary: :class:`WindowCounter` makes ``FixedWindowRateLimiter.hit``'s own storage call
    (same key, same window), so the library reads back exactly what was counted."""
    storage = MemoryStorage()
    item = parse_rate_limit("5/minute").quotas[0].item

    async def run() -> tuple[int, int]:
        counter = WindowCounter(storage)
        for _ in range(3):
            counted = await counter.hit(item, "key:alpha")
        stats = await FixedWindowRateLimiter(storage).get_window_stats(item, "key:alpha")
        return counted.count, stats.remaining

    assert asyncio.run(run()) == (3, 2)


class FailingStorage(MemoryStorage):
    """Counters whose every call fails, as an unreachable Redis's do; counts the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.calls += 1
        raise StorageError(ConnectionError("Connection refused"))


def test_a_failing_storage_lets_requests_pass_warns_once_and_is_retried_after_a_pause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = FailingStorage()
    monotonic = Clock(100.0)
    rate = limiter("1/minute", RateStore(storage, shared=True, release=memory_store().release),
                   retry_interval=2.0, monotonic=monotonic)

    with caplog.at_level(logging.DEBUG, logger="micromailer.security.rate_limit"):
        first = hits(rate, ALPHA, 20)
        monotonic.now += 2.0
        later = hits(rate, ALPHA, 20)
        monotonic.now += 30.0
        hits(rate, ALPHA, 1)

    assert first == later == [None] * 20  # passed, no headers: nothing is known
    assert storage.calls == 3  # once at first, once per pause, not once per request
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "requests pass unlimited" in warnings[0].getMessage()
    assert "Connection refused" in warnings[0].getMessage()


def test_the_counters_come_back_when_the_storage_does() -> None:
    storage = FailingStorage()
    monotonic = Clock(100.0)
    store = RateStore(storage, shared=True, release=memory_store().release)
    rate = limiter("1/minute", store, retry_interval=2.0, monotonic=monotonic)
    assert hits(rate, ALPHA, 1) == [None]

    storage.incr = MemoryStorage().incr  # type: ignore[method-assign]
    monotonic.now += 2.0

    assert allowed(hits(rate, ALPHA, 2)) == [True, False]


class SlowStorage(MemoryStorage):
    """Counters in memory, each call taking a round trip's time; counts the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.calls += 1
        await asyncio.sleep(0.005)
        return await super().incr(key, expiry, amount)


def test_hits_of_one_key_at_once_share_storage_calls_and_exactly_the_limit_passes() -> None:
    storage = SlowStorage()
    rate = limiter("20/minute", RateStore(storage, shared=True, release=storage.reset))

    async def run() -> list[RateVerdict | None]:
        return list(await asyncio.gather(*(rate.hit(ALPHA, None) for _ in range(50))))

    verdicts = asyncio.run(run())

    assert allowed(verdicts).count(True) == 20
    assert storage.calls <= 3  # one call in flight, the rest gathered behind it
    remaining = sorted(int(v.headers["RateLimit"].split("r=")[1].split(";")[0])
                       for v in verdicts if v is not None)
    assert remaining == [0] * 31 + list(range(1, 20))  # every hit its own place in the count


class FlakyStorage(MemoryStorage):
    """Counters that fail while ``failing`` is set."""

    failing = True

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        if self.failing:
            raise StorageError(ConnectionError("Connection refused"))
        return await super().incr(key, expiry, amount)


def test_a_failing_call_reaches_every_hit_it_counted_and_the_next_group_starts_afresh() -> None:
    storage = FlakyStorage()
    rate = limiter("20/minute", RateStore(storage, shared=True, release=storage.reset))

    async def run() -> tuple[list[RateVerdict | None], list[RateVerdict | None]]:
        failed = list(await asyncio.gather(*(rate.hit(ALPHA, None) for _ in range(5))))
        storage.failing = False
        rate._retry_at = None  # the pause after a failure is another test's
        return failed, list(await asyncio.gather(*(rate.hit(ALPHA, None) for _ in range(5))))

    failed, counted = asyncio.run(run())

    assert failed == [None] * 5  # failing open, every one of them
    assert allowed(counted) == [True] * 5
