"""Rate limits counted in a real Redis: API processes share one budget per key, and a Redis that
is down or never answers lets the requests pass instead of failing or stalling them.

Needs the test Redis (skipped locally without it, a failure in CI); keys live under a scratch
prefix of this test's own.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from micromailer.security.principal import OPEN, Principal
from micromailer.security.rate_limit import RateLimiter, RateVerdict
from micromailer.security.rate_policy import parse_rate_limit
from micromailer.security.rate_store import redis_store
from tests.support.redis_server import closed_port_url

ALPHA = Principal(key_name="alpha", project="alpha", admin=False)


def api_process(url: str, prefix: str, limit: str = "3/minute") -> RateLimiter:
    """The limiter one API process builds: its own Redis connections, the shared counters."""
    return RateLimiter(parse_rate_limit(limit), redis_store(url, timeout=0.25, key_prefix=prefix),
                       retry_interval=60.0)


def test_two_api_processes_share_one_budget_per_key(redis_url: str, prefix: str) -> None:
    first, second = api_process(redis_url, prefix), api_process(redis_url, prefix)

    async def run() -> list[RateVerdict | None]:
        try:
            return [await (first if n % 2 == 0 else second).hit(ALPHA, "10.0.0.1")
                    for n in range(5)]
        finally:
            await first.close()
            await second.close()

    verdicts = asyncio.run(run())

    assert [v is not None and v.allowed for v in verdicts] == [True, True, True, False, False]
    remaining = [v.headers["RateLimit"].split(";")[1] for v in verdicts if v]
    assert remaining == ["r=2", "r=1", "r=0", "r=0", "r=0"]
    # the second process learned where the window ends from Redis: both say the same second
    resets = {int(v.headers["RateLimit"].rsplit("t=", 1)[1]) for v in verdicts if v}
    assert resets <= {59, 60}, resets
    assert verdicts[3] is not None and verdicts[3].headers["Retry-After"] in {"59", "60"}


def test_the_budgets_in_redis_are_per_key_and_per_client_address(
    redis_url: str, prefix: str,
) -> None:
    rate = api_process(redis_url, prefix, "1/minute")
    beta = Principal(key_name="beta", project="beta", admin=False)

    async def run() -> list[bool]:
        try:
            calls = [(ALPHA, "a"), (ALPHA, "a"), (beta, "a"), (OPEN, "a"), (OPEN, "b"), (OPEN, "a")]
            return [bool((v := await rate.hit(p, c)) and v.allowed) for p, c in calls]
        finally:
            await rate.close()

    assert asyncio.run(run()) == [True, False, True, True, True, False]


def test_redis_down_lets_requests_pass_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    rate = api_process(closed_port_url(), "unused")

    async def run() -> list[RateVerdict | None]:
        try:
            return [await rate.hit(ALPHA, "10.0.0.1") for _ in range(50)]
        finally:
            await rate.close()

    with caplog.at_level(logging.WARNING, logger="micromailer.security.rate_limit"):
        verdicts = asyncio.run(run())

    assert verdicts == [None] * 50
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "rate limits are not counted" in warning and "ConnectionError" in warning


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP port that accepts connections and never answers (a hung Redis); the accepted
    connections are listed."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", accepted
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_redis_that_never_answers_costs_one_timeout_not_one_per_request(
    silent_server: tuple[str, list[socket.socket]],
) -> None:
    url, accepted = silent_server
    rate = api_process(url, "unused")

    async def run() -> list[RateVerdict | None]:
        try:
            return [await rate.hit(ALPHA, "10.0.0.1") for _ in range(51)]
        finally:
            await rate.close()

    verdicts = asyncio.run(run())

    assert verdicts == [None] * 51
    # one request waited for the read timeout; the next 50 passed without trying Redis
    assert len(accepted) == 1
