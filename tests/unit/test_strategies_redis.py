"""The breaker on the shared board: Redis holds the same health, so every worker ranks alike.

Needs the test Redis (``MICROMAILER_TEST_REDIS_URL``, default local port): skipped without it
locally, a failure under ``CI=true``. Keys live under a scratch prefix of their own.
"""

from __future__ import annotations

import pytest

from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.lesson import Lesson
from micromailer.health.redis_board import RedisBoard
from micromailer.health.redis_states import redis_client
from tests.support.redis_server import scratch_prefix
from tests.support.servers import require_redis

BASES = {"sendgrid": 50.0, "mandrill": 49.0}


def test_breaker_health_in_redis_is_the_memory_boards_bit_for_bit() -> None:
    url = require_redis()
    with scratch_prefix(url) as prefix:
        shared = RedisBoard(redis_client(url), BreakerStrategy(), BASES, prefix=prefix)
        other_worker = RedisBoard(redis_client(url), BreakerStrategy(), BASES, prefix=prefix)
        memory = MemoryBoard(BreakerStrategy(), BASES)
        try:
            for board in (shared, memory):
                for event in ("fail", "ok", "fail", "fail"):
                    (board.record_failure if event == "fail" else board.record_success)("sendgrid")
            assert [s.health for s in other_worker.states()] == [s.health for s in memory.states()]
            # parked on every worker: 50 * health ** 3, under mandrill's 49
            assert other_worker.ranked() == ["mandrill", "sendgrid"]
            health = memory.states()[0].health
            assert other_worker.scores()["sendgrid"] == pytest.approx(50 * health**3)
            assert shared.shared and other_worker.shared
        finally:
            shared.close()
            other_worker.close()


def test_a_retry_after_one_worker_heard_holds_the_provider_on_every_worker() -> None:
    url = require_redis()
    with scratch_prefix(url) as prefix:
        heard, other_worker = (
            RedisBoard(redis_client(url), BreakerStrategy(), BASES, prefix=prefix)
            for _ in range(2)
        )
        try:
            heard.record_many([Lesson("sendgrid", False, 60.0)])
            (sendgrid, _), now = other_worker.snapshot()
            assert sendgrid.retry_at == pytest.approx(now + 60.0, abs=1.0)
            assert sendgrid.health == 1.0 and sendgrid.last_error is None
            assert other_worker.ranked() == ["mandrill", "sendgrid"]
        finally:
            heard.close()
            other_worker.close()
