"""The service's strategies beside the original: breaker and priority, and how one is chosen.

Breaker (docs/selection.md): the original's health steps; parked for ``20 * 2 ** (n - 1)`` s
(at most 180) after ``n`` failures in a row, at ``base * health ** 3``; then ``base`` again.
"""

from __future__ import annotations

from typing import Any

import pytest

from micromailer.config import Settings
from micromailer.health.base import ProviderHealth
from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.factory import make_board
from micromailer.health.original import OriginalStrategy
from micromailer.health.priority import PriorityStrategy
from micromailer.health.redis_board import as_stepped
from micromailer.health.strategy import DEFAULT_STRATEGY, STRATEGY_NAMES, make_strategy
from micromailer.providers.errors import ConfigurationError

T0 = 1_000_000.0


class Ticker:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- breaker ------------------------------------------------------------------------------


def test_breaker_moves_health_exactly_as_the_original() -> None:
    breaker, original = BreakerStrategy(), OriginalStrategy()
    state = ProviderHealth("a", 50.0)
    for event in ("fail", "fail", "ok", "fail", "ok", "ok"):
        step = "on_failure" if event == "fail" else "on_success"
        mine, theirs = getattr(breaker, step)(state, T0), getattr(original, step)(state, T0)
        assert mine == theirs
        state = mine


@pytest.mark.parametrize(("failures", "seconds"), [(1, 20.0), (2, 40.0), (3, 80.0), (4, 160.0),
                                                   (5, 180.0), (12, 180.0)])
def test_breaker_backoff_doubles_per_failure_up_to_180_s(failures: int, seconds: float) -> None:
    assert BreakerStrategy().backoff(0.9**failures) == pytest.approx(seconds)


def test_one_failure_parks_below_a_healthy_peer_then_a_probe_is_due() -> None:
    breaker = BreakerStrategy()
    failed = breaker.on_failure(ProviderHealth("a", 50.0), T0)
    # parked: 50 * 0.9 ** 3 = 36.45, below 40 (the study's B) and 49 (the service's second)
    assert breaker.score(failed, T0) == pytest.approx(36.45)
    assert breaker.score(failed, T0 + 19.9) == pytest.approx(36.45)
    # after 20 s its base again: the next email is a probe
    assert breaker.score(failed, T0 + 20.0) == 50.0


def test_a_provider_that_never_failed_is_never_parked() -> None:
    assert BreakerStrategy().score(ProviderHealth("a", 50.0, 0.2), T0) == 50.0


def test_successes_shrink_the_backoff() -> None:
    breaker = BreakerStrategy()
    state = ProviderHealth("a", 50.0, 0.9**4, T0)  # 4 failures: 160 s
    for _ in range(5):
        state = breaker.on_success(state, T0)
    # 1 - (1 - 0.6561) * 0.9 ** 5 = 0.797, about 2.15 failures' worth: 20 * 2 ** 1.15 = 44.5 s
    assert breaker.backoff(state.health) == pytest.approx(44.5, abs=0.1)


def test_on_a_board_a_failing_provider_is_probed_at_doubling_intervals() -> None:
    clock = Ticker()
    board = MemoryBoard(BreakerStrategy(), {"a": 50.0, "b": 40.0}, clock)
    probes = []
    for tick in range(2000):  # 200 s at 10 a second, "a" down throughout
        clock.now = T0 + tick / 10
        first = board.ranked()[0]
        if first == "a":
            probes.append(round(clock.now - T0, 1))
            board.record_failure("a")
        else:
            board.record_success("b")
    assert probes == [0.0, 20.0, 60.0, 140.0]


# -- priority -----------------------------------------------------------------------------


def test_the_original_and_priority_ignore_retry_after() -> None:
    """The original rule is exact: a 429 naming its Retry-After moves health as any failure."""
    for strategy in (OriginalStrategy(), PriorityStrategy()):
        held = strategy.on_failure(ProviderHealth("a", 50.0), T0, retry_after=30.0)
        assert held == strategy.on_failure(ProviderHealth("a", 50.0), T0)


def test_breaker_holds_a_rate_limited_provider_exactly_for_its_retry_after() -> None:
    breaker = BreakerStrategy()
    held = breaker.on_failure(ProviderHealth("a", 50.0), T0, retry_after=30.0)
    assert held == ProviderHealth("a", 50.0, 1.0, None, T0 + 30.0)
    assert breaker.score(held, T0 + 29.9) == 0.0
    assert breaker.score(held, T0 + 30.0) == 50.0
    # without Retry-After a 429 is an ordinary failure: parked, health down
    plain = breaker.on_failure(ProviderHealth("a", 50.0), T0)
    assert plain.retry_at is None and plain.health == 0.9
    assert breaker.score(plain, T0 + 1.0) == pytest.approx(50 * 0.9**3)


def test_priority_ranks_by_base_whatever_happened() -> None:
    clock = Ticker()
    board = MemoryBoard(PriorityStrategy(), {"a": 50.0, "b": 40.0}, clock)
    for _ in range(5):
        board.record_failure("a")
    assert board.ranked() == ["a", "b"]
    assert board.states()[0].health == pytest.approx(0.9**5)  # still shown, never used


# -- choosing one -------------------------------------------------------------------------


def test_every_known_name_makes_its_strategy_and_the_original_stays_available() -> None:
    made = {name: make_strategy(name) for name in STRATEGY_NAMES}
    assert {name: strategy.name for name, strategy in made.items()} == {
        name: name for name in STRATEGY_NAMES
    }
    assert isinstance(made["original"], OriginalStrategy)
    assert DEFAULT_STRATEGY in STRATEGY_NAMES


def test_settings_take_the_strategy_from_the_environment_and_refuse_unknown_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _settings().strategy == DEFAULT_STRATEGY == "breaker"
    monkeypatch.setenv("MICROMAILER_STRATEGY", "Original")
    assert _settings().strategy == "original"
    monkeypatch.setenv("MICROMAILER_STRATEGY", "fastest")
    with pytest.raises(ValueError, match="unknown strategy 'fastest'; known: original, breaker"):
        _settings()


def test_the_redis_board_can_run_every_service_strategy() -> None:
    for name in STRATEGY_NAMES:
        assert as_stepped(make_strategy(name)) is not None


class _Unshareable:
    """A strategy whose updates are not health steps (a shared board could not run them)."""

    name = "unshareable"

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return state

    def on_failure(
        self, state: ProviderHealth, now: float, retry_after: float | None = None
    ) -> ProviderHealth:
        return state

    def score(self, state: ProviderHealth, now: float) -> float:
        return state.base_score


def test_a_strategy_redis_cannot_run_is_refused_with_a_configuration_error() -> None:
    settings = _settings(redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ConfigurationError, match="cannot share it"):
        make_board(settings, ["sendgrid", "mandrill"], _Unshareable())
    assert isinstance(make_board(_settings(), ["sendgrid"], _Unshareable()), MemoryBoard)
