"""One contract for every health board (memory, Redis), then what only the Redis board does.

The contract: the same events give the same health, bit for bit, as the strategy computes in
Python; right after a failure the score is ``base * health`` and the ranking flips; recovery
runs on the board's clock; concurrent updates are never lost. The Redis board adds: one state
shared by every worker, and a fallback to memory that never lets a Redis error reach delivery.

Redis tests use the shared test Redis (``MICROMAILER_TEST_REDIS_URL``) under a key prefix of
their own, or a private ``redis-server`` when they stop and start it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from micromailer.config import Settings
from micromailer.health.base import ProviderHealth
from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.factory import make_board
from micromailer.health.lesson import Lesson
from micromailer.health.original import OriginalStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.health.redis_states import redis_client
from tests.support.redis_server import ThrowawayRedis, closed_port_url, scratch_prefix
from tests.support.servers import require_redis

BASES = {"sendgrid": 50.0, "mandrill": 49.0}
LOGGER = "micromailer.health.redis_board"
#: Score points Redis's clock may add between a write and a read: a score after one failure
#: climbs 50 * 0.1 / 300 = 0.017 points a second, so this allows over a second.
NEAR = 0.02


class Ticker:
    """A clock the test moves by hand (the memory board's clock, or the back-off's)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class BoardKit:
    """How to build one kind of board, and how to let time pass on its clock."""

    kind: str
    make: Callable[[], HealthBoard]
    advance: Callable[[float], None]


def _settings(**values: Any) -> Settings:
    """Settings from ``values`` and defaults, not from a ``.env`` file."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]




def _aging(client: redis.Redis, prefix: str) -> Callable[[float], None]:
    """Redis's TIME cannot be moved: move every recorded failure into the past instead."""

    def advance(seconds: float) -> None:
        for key in client.scan_iter(match=f"{prefix}*"):
            for field in ("last_error", "retry_at"):
                stamp = client.hget(key, field)
                if stamp is not None:
                    client.hset(key, field, repr(float(stamp) - seconds))

    return advance


@contextlib.contextmanager
def _kit(kind: str, strategy: type[OriginalStrategy]) -> Iterator[BoardKit]:
    if kind == "memory":
        clock = Ticker()
        yield BoardKit(
            "memory", lambda: MemoryBoard(strategy(), BASES, clock), clock.advance
        )
        return
    url = require_redis()
    client = redis_client(url)
    boards: list[RedisBoard] = []
    with scratch_prefix(url) as prefix:

        def make() -> HealthBoard:
            boards.append(RedisBoard(redis_client(url), strategy(), BASES, prefix=prefix))
            return boards[-1]

        yield BoardKit("redis", make, _aging(client, prefix))
        for board in boards:
            assert board.shared, "the Redis board fell back to memory during a contract test"
            board.close()
    client.close()


@pytest.fixture(params=["memory", "redis"])
def kit(request: pytest.FixtureRequest) -> Iterator[BoardKit]:
    with _kit(request.param, OriginalStrategy) as built:
        yield built


@pytest.fixture(params=["memory", "redis"])
def breaker_kit(request: pytest.FixtureRequest) -> Iterator[BoardKit]:
    with _kit(request.param, BreakerStrategy) as built:
        yield built


# -- the contract ------------------------------------------------------------------------


def test_a_fresh_board_is_healthy_and_ranks_in_preference_order(kit: BoardKit) -> None:
    board = kit.make()
    assert board.states() == [ProviderHealth("sendgrid", 50.0), ProviderHealth("mandrill", 49.0)]
    assert board.scores() == BASES
    assert board.ranked() == ["sendgrid", "mandrill"]


def test_one_failure_scores_base_times_health_and_flips_the_ranking(kit: BoardKit) -> None:
    board = kit.make()
    board.record_failure("sendgrid")
    sendgrid, mandrill = board.states()
    assert sendgrid.health == 0.9
    assert sendgrid.last_error is not None
    assert mandrill == ProviderHealth("mandrill", 49.0)
    assert board.scores()["sendgrid"] == pytest.approx(50 * 0.9, abs=NEAR)
    assert board.ranked() == ["mandrill", "sendgrid"]


def test_the_same_events_give_the_same_health_bit_for_bit(kit: BoardKit) -> None:
    """Lua and Python apply the strategy's steps with the same doubles, stored losslessly."""
    board = kit.make()
    strategy = OriginalStrategy()
    expected = {name: ProviderHealth(name, base) for name, base in BASES.items()}
    events = "FFSFSSSFFFSFSSSSSSSSFS"
    for index, event in enumerate(events):
        name = "sendgrid" if index % 3 else "mandrill"
        if event == "F":
            board.record_failure(name)
            expected[name] = strategy.on_failure(expected[name], 0.0)
        else:
            board.record_success(name)
            expected[name] = strategy.on_success(expected[name], 0.0)
    for state in board.states():
        assert state.health == expected[state.name].health
        assert (state.last_error is None) == (expected[state.name].last_error is None)


def test_a_batch_of_lessons_applies_each_in_order(kit: BoardKit) -> None:
    """``record_many`` (one Redis round trip) gives what the steps give one by one."""
    board = kit.make()
    strategy = OriginalStrategy()
    expected = {name: ProviderHealth(name, base) for name, base in BASES.items()}
    lessons = [Lesson("sendgrid" if i % 3 else "mandrill", e == "S")
               for i, e in enumerate("FFSFSSSFFFSFSSSSSSSSFS")]
    for name, succeeded, _ in lessons:
        step = strategy.on_success if succeeded else strategy.on_failure
        expected[name] = step(expected[name], 0.0)
    board.record_many(lessons)
    assert [state.health for state in board.states()] == [
        expected[name].health for name in BASES
    ]
    assert all(state.health < 1.0 for state in board.states())


def test_the_original_counts_a_retry_after_as_a_plain_failure(kit: BoardKit) -> None:
    """The original rule knows no Retry-After: a 429 that names one is a failure like another."""
    board = kit.make()
    board.record_many([Lesson("sendgrid", False, 30.0)])
    sendgrid = board.states()[0]
    assert sendgrid.health == 0.9
    assert sendgrid.last_error is not None
    assert sendgrid.retry_at is None


def test_the_breaker_holds_a_provider_for_its_retry_after_and_no_longer(
    breaker_kit: BoardKit,
) -> None:
    """A 429 with Retry-After leaves health alone, holds the provider off (score 0) until the
    time it named, then puts it first again at once; a later lesson keeps the hold."""
    board = breaker_kit.make()
    board.record_many([Lesson("sendgrid", False, 30.0), Lesson("mandrill", True)])
    sendgrid = board.states()[0]
    assert (sendgrid.health, sendgrid.last_error) == (1.0, None)
    assert sendgrid.retry_at is not None
    assert board.scores()["sendgrid"] == 0.0
    assert board.ranked() == ["mandrill", "sendgrid"]
    breaker_kit.advance(29)
    assert board.ranked() == ["mandrill", "sendgrid"]
    breaker_kit.advance(2)
    assert board.scores()["sendgrid"] == 50.0
    assert board.ranked() == ["sendgrid", "mandrill"]


def test_a_success_at_full_health_changes_nothing(kit: BoardKit) -> None:
    board = kit.make()
    board.record_success("sendgrid")
    assert board.states()[0] == ProviderHealth("sendgrid", 50.0)


def test_recovery_runs_on_the_boards_clock(kit: BoardKit) -> None:
    board = kit.make()
    board.record_failure("sendgrid")
    kit.advance(150)
    assert board.scores()["sendgrid"] == pytest.approx(50 * (0.5 + 0.9 * 0.5), abs=NEAR)
    assert board.ranked() == ["mandrill", "sendgrid"]
    kit.advance(100)  # 250 s: 50 * (5/6 + 0.9/6) = 49.17 > 49
    assert board.ranked() == ["sendgrid", "mandrill"]
    kit.advance(60)
    assert board.scores()["sendgrid"] == pytest.approx(50.0)


def test_concurrent_failures_are_never_lost(kit: BoardKit) -> None:
    board = kit.make()
    threads, per_thread = 8, 50
    start = threading.Barrier(threads)

    def fail_many() -> None:
        start.wait()
        for _ in range(per_thread):
            board.record_failure("sendgrid")

    workers = [threading.Thread(target=fail_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    expected = 1.0
    for _ in range(threads * per_thread):
        expected *= 0.9
    health = board.states()[0].health
    assert health == expected
    assert health == pytest.approx(0.9**400, rel=1e-9)


def test_an_unknown_provider_is_a_key_error(kit: BoardKit) -> None:
    board = kit.make()
    with pytest.raises(KeyError):
        board.record_failure("postmark")


# -- Redis only: sharing -----------------------------------------------------------------


def test_every_worker_sees_every_other_workers_failures(redis_url: str, prefix: str) -> None:
    first, second = (
        RedisBoard(redis_client(redis_url), OriginalStrategy(), BASES, prefix=prefix)
        for _ in range(2)
    )
    first.record_failure("sendgrid")
    assert second.ranked() == ["mandrill", "sendgrid"]
    second.record_failure("sendgrid")
    assert first.states()[0].health == 0.9 * 0.9
    first.close()
    second.close()


def test_the_board_keeps_one_hash_per_provider_and_no_base_score(
    redis_url: str, prefix: str
) -> None:
    board = RedisBoard(redis_client(redis_url), OriginalStrategy(), BASES, prefix=prefix)
    board.record_success("mandrill")  # full health: nothing to write
    board.record_failure("sendgrid")
    assert sorted(board.client.scan_iter(match=f"{prefix}*")) == [f"{prefix}sendgrid"]
    assert set(board.client.hgetall(f"{prefix}sendgrid")) == {"health", "last_error"}
    board.close()


def test_make_board_follows_the_settings() -> None:
    names = ["sendgrid", "mandrill"]
    memory = make_board(_settings(redis_url=None), names, OriginalStrategy())
    shared = make_board(
        _settings(redis_url=closed_port_url()),
        names,
        OriginalStrategy(),
    )
    assert isinstance(memory, MemoryBoard)
    assert isinstance(shared, RedisBoard)
    assert shared.ranked() == names  # unreachable: from memory, never an error
    shared.close()


# -- Redis only: fallback ----------------------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]


def test_without_redis_the_board_works_from_memory_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    backoff = Ticker()
    board = RedisBoard(
        redis_client(closed_port_url()), OriginalStrategy(), BASES, monotonic=backoff
    )
    twin = MemoryBoard(OriginalStrategy(), BASES)
    for event in ("failure", "failure", "success"):
        getattr(board, f"record_{event}")("sendgrid")
        getattr(twin, f"record_{event}")("sendgrid")
        backoff.advance(5)  # every call may try Redis again, and fails again
    assert not board.shared
    assert [s.health for s in board.states()] == [s.health for s in twin.states()]
    assert board.ranked() == ["mandrill", "sendgrid"]
    assert len(_warnings(caplog)) == 1
    assert "unreachable" in _warnings(caplog)[0]


@pytest.mark.timeout(20)  # without a read timeout the first call would hang for ever
def test_a_silent_redis_is_tried_once_per_back_off(caplog: pytest.LogCaptureFixture) -> None:
    """A server that accepts connections but never answers: the first call gives up after
    the read timeout, without retrying; the calls after it, within the back-off, do not even
    connect."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        board = RedisBoard(redis_client(url, timeout=0.25), OriginalStrategy(), BASES)
        board.record_failure("sendgrid")
        for _ in range(50):
            board.record_failure("mandrill")
            board.ranked()
        silent.setblocking(False)
        connections = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                connections += 1
    assert connections == 1
    assert board.states()[0].health == 0.9
    assert len(_warnings(caplog)) == 1


def test_a_corrupt_value_in_redis_does_not_reach_delivery(redis_url: str, prefix: str) -> None:
    board = RedisBoard(redis_client(redis_url), OriginalStrategy(), BASES, prefix=prefix)
    board.client.hset(f"{prefix}sendgrid", "health", "not-a-number")
    board.client.set(f"{prefix}mandrill", "a string, not a hash")
    board.record_failure("sendgrid")
    board.record_success("mandrill")
    assert board.ranked() == ["mandrill", "sendgrid"]
    assert not board.shared
    board.close()


def test_the_board_returns_to_redis_when_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    backoff = Ticker()
    with ThrowawayRedis() as server:
        board = RedisBoard(
            redis_client(server.url),
            OriginalStrategy(),
            BASES,
            monotonic=backoff,
            retry_interval=2.0,
        )
        board.record_failure("sendgrid")
        assert board.shared

        server.stop()
        board.record_failure("sendgrid")
        assert not board.shared
        # The fallback starts from what Redis last said, then learns on its own.
        assert board.states()[0].health == 0.9 * 0.9
        backoff.advance(2.5)
        board.record_failure("mandrill")  # one probe, still down: no second warning
        assert not board.shared

        server.start()
        board.record_failure("mandrill")  # within the back-off: still memory
        assert not board.shared
        backoff.advance(2.5)
        board.record_failure("sendgrid")
        assert board.shared
        assert board.client.hget("micromailer:health:sendgrid", "health") == "0.9"
        board.close()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert [level for level, _ in messages] == [logging.WARNING, logging.INFO]
    assert messages[1][1] == "shared health board is back"
