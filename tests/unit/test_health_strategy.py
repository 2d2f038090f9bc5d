"""Tests of the original selection strategy and the memory board against hand-computed values.

The rule (DESIGN.md): failure ``h = h * 0.9``; success ``h = h * 0.9 + 0.1``;
``weight = min(1, (now - last_error) / 300)``;
``score = clamp(base * (weight + h * (1 - weight)), 0, 100)``.
"""

from __future__ import annotations

import pytest

from micromailer.health.base import ProviderHealth, base_scores
from micromailer.health.board import MemoryBoard, rank
from micromailer.health.original import OriginalStrategy, recovery_weight
from micromailer.health.strategy import make_strategy

T0 = 1_000_000.0  # an arbitrary epoch for the fake clock


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def strategy() -> OriginalStrategy:
    return OriginalStrategy()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def board_of(names: list[str], clock: FakeClock) -> MemoryBoard:
    return MemoryBoard(OriginalStrategy(), base_scores(names), clock=clock)


# -- health ------------------------------------------------------------------------------


def test_failures_degrade_health_geometrically(strategy: OriginalStrategy) -> None:
    state = ProviderHealth("a", 50.0)
    seen = []
    for _ in range(4):
        state = strategy.on_failure(state, T0)
        seen.append(state.health)
    # 1.0 * 0.9 = 0.9; 0.9 * 0.9 = 0.81; 0.81 * 0.9 = 0.729; 0.729 * 0.9 = 0.6561
    assert seen == pytest.approx([0.9, 0.81, 0.729, 0.6561], rel=1e-12)


def test_failure_records_its_time_and_success_keeps_it(strategy: OriginalStrategy) -> None:
    failed = strategy.on_failure(ProviderHealth("a", 50.0), T0)
    assert failed.last_error == T0
    assert strategy.on_success(failed, T0 + 10).last_error == T0


def test_success_recovers_health_by_the_formula(strategy: OriginalStrategy) -> None:
    state = ProviderHealth("a", 50.0, health=0.729)
    # 0.729 * 0.9 + 0.1 = 0.6561 + 0.1 = 0.7561
    state = strategy.on_success(state, T0)
    assert state.health == pytest.approx(0.7561, rel=1e-12)
    # 0.7561 * 0.9 + 0.1 = 0.68049 + 0.1 = 0.78049
    state = strategy.on_success(state, T0)
    assert state.health == pytest.approx(0.78049, rel=1e-12)


def test_success_matches_the_literal_formula_bit_for_bit(strategy: OriginalStrategy) -> None:
    # ``h * 0.9 + (1 - 0.9)`` differs in the last bit: 1 - 0.9 is 0.09999999999999998.
    for health in (0.55, 0.5, 0.729, 0.1234):
        got = strategy.on_success(ProviderHealth("a", 50.0, health=health), T0).health
        assert got == health * 0.9 + 0.1


def test_success_at_full_health_stays_exactly_one(strategy: OriginalStrategy) -> None:
    # 1.0 * 0.9 + 0.1 = 1.0
    assert strategy.on_success(ProviderHealth("a", 50.0), T0).health == 1.0


# -- score -------------------------------------------------------------------------------


def test_a_provider_that_never_failed_scores_its_base(strategy: OriginalStrategy) -> None:
    # last_error None -> weight 1 -> 50 * (1 + h * 0) = 50, whatever the health
    assert strategy.score(ProviderHealth("a", 50.0, health=0.3), T0) == 50.0


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0.0, 45.0),  # weight 0:   50 * (0 + 0.9 * 1) = 45
        (150.0, 47.5),  # weight 0.5: 50 * (0.5 + 0.9 * 0.5) = 50 * 0.95 = 47.5
        (300.0, 50.0),  # weight 1:   50 * (1 + 0.9 * 0) = 50
        (450.0, 50.0),  # weight min(1, 1.5) = 1: still 50
    ],
)
def test_score_recovers_linearly_over_300_seconds(
    strategy: OriginalStrategy, elapsed: float, expected: float
) -> None:
    failed = strategy.on_failure(ProviderHealth("a", 50.0), T0)  # health 0.9
    assert strategy.score(failed, T0 + elapsed) == pytest.approx(expected, rel=1e-12)


def test_score_after_three_failures_halfway_through_recovery(strategy: OriginalStrategy) -> None:
    state = ProviderHealth("b", 49.0)
    for _ in range(3):
        state = strategy.on_failure(state, T0)  # health 0.729
    # weight 60 / 300 = 0.2: 49 * (0.2 + 0.729 * 0.8) = 49 * (0.2 + 0.5832) = 49 * 0.7832 = 38.3768
    assert strategy.score(state, T0 + 60) == pytest.approx(38.3768, rel=1e-12)


def test_recovery_weight_values() -> None:
    assert recovery_weight(None, T0) == 1.0
    assert recovery_weight(T0, T0) == 0.0
    assert recovery_weight(T0, T0 + 75) == 0.25  # 75 / 300
    assert recovery_weight(T0, T0 + 900) == 1.0  # min(1, 3)
    assert recovery_weight(T0, T0 - 50) == 0.0  # a clock behind the error never goes negative


def test_score_clamps_to_100(strategy: OriginalStrategy) -> None:
    # 150 * (1 + ...) = 150 -> 100
    assert strategy.score(ProviderHealth("a", 150.0), T0) == 100.0
    # right after a failure: 150 * 0.9 = 135 -> 100
    assert strategy.score(ProviderHealth("a", 150.0, 0.9, T0), T0) == 100.0


def test_score_is_never_negative(strategy: OriginalStrategy) -> None:
    # -10 * 1 = -10 -> 0
    assert strategy.score(ProviderHealth("a", -10.0), T0) == 0.0
    assert strategy.score(ProviderHealth("a", -10.0, 0.5, T0), T0 + 100) == 0.0
    # health 0 right after a failure: 50 * (0 + 0 * 1) = 0, not below
    assert strategy.score(ProviderHealth("a", 50.0, 0.0, T0), T0) == 0.0


def test_base_scores_follow_configured_order() -> None:
    scores = base_scores(["sendgrid", "mandrill", "third"])
    assert scores == {"sendgrid": 50.0, "mandrill": 49.0, "third": 48.0}
    assert list(scores) == ["sendgrid", "mandrill", "third"]


def test_make_strategy_knows_original_and_refuses_others() -> None:
    assert isinstance(make_strategy("original"), OriginalStrategy)
    with pytest.raises(ValueError, match="unknown strategy 'nope'; known: original"):
        make_strategy("nope")


# -- ranking on the memory board ---------------------------------------------------------


def test_a_provider_that_just_failed_ranks_below_the_second(clock: FakeClock) -> None:
    board = board_of(["a", "b"], clock)
    assert board.ranked() == ["a", "b"]
    board.record_failure("a")
    # a: 50 * 0.9 = 45 < b: 49
    assert board.scores() == pytest.approx({"a": 45.0, "b": 49.0})
    assert board.ranked() == ["b", "a"]


def test_a_failed_provider_is_back_on_top_after_300_seconds(clock: FakeClock) -> None:
    board = board_of(["a", "b"], clock)
    board.record_failure("a")
    # a = 50 * (w + 0.9 * (1 - w)) = 45 + 5w; it passes b's 49 when w > 0.8, i.e. after 240 s
    clock.advance(230)  # 45 + 5 * 230/300 = 48.83 < 49
    assert board.ranked() == ["b", "a"]
    clock.advance(20)  # 250 s: 45 + 5 * 250/300 = 49.17 > 49
    assert board.ranked() == ["a", "b"]
    clock.advance(50)  # 300 s: weight 1, a = 50
    assert board.scores()["a"] == pytest.approx(50.0)
    assert board.ranked() == ["a", "b"]


def test_ties_keep_configured_order(clock: FakeClock) -> None:
    equal = MemoryBoard(OriginalStrategy(), {"x": 50.0, "y": 50.0, "z": 50.0}, clock=clock)
    assert equal.ranked() == ["x", "y", "z"]
    reversed_order = MemoryBoard(OriginalStrategy(), {"z": 50.0, "y": 50.0, "x": 50.0}, clock=clock)
    assert reversed_order.ranked() == ["z", "y", "x"]
    assert rank({"p": 1.0, "q": 2.0, "r": 1.0}) == ["q", "p", "r"]


def test_both_failing_together_keeps_base_order(clock: FakeClock) -> None:
    board = board_of(["a", "b", "c"], clock)
    for name in ("a", "b", "c"):
        board.record_failure(name)
    # 45, 44.1, 43.2: 50 * 0.9, 49 * 0.9, 48 * 0.9
    assert board.scores() == pytest.approx({"a": 45.0, "b": 44.1, "c": 43.2})
    assert board.ranked() == ["a", "b", "c"]


# -- version -----------------------------------------------------------------------------


def test_version_bumps_on_change_only(clock: FakeClock) -> None:
    board = board_of(["a", "b"], clock)
    assert board.version == 0
    board.record_success("a")  # 1.0 * 0.9 + 0.1 = 1.0: nothing changed
    assert board.version == 0
    board.scores()
    board.ranked()
    board.states()
    assert board.version == 0
    board.record_failure("a")
    assert board.version == 1
    board.record_success("a")  # 0.9 -> 0.91
    assert board.version == 2


def test_a_failure_that_changes_nothing_does_not_bump(clock: FakeClock) -> None:
    board = MemoryBoard(OriginalStrategy(), {"a": 50.0}, clock=clock)
    board.load([ProviderHealth("a", 50.0, health=0.0, last_error=clock.now)])
    version = board.version
    board.record_failure("a")  # 0 * 0.9 = 0, same time: same state
    assert board.version == version


# -- load --------------------------------------------------------------------------------


def test_load_adopts_saved_health_but_keeps_configured_base(clock: FakeClock) -> None:
    board = board_of(["a", "b"], clock)
    board.load([ProviderHealth("a", base_score=999.0, health=0.5, last_error=clock.now)])
    (a, b) = board.states()
    assert a == ProviderHealth("a", 50.0, 0.5, clock.now)
    assert b == ProviderHealth("b", 49.0)
    # a: 50 * (0 + 0.5 * 1) = 25
    assert board.scores()["a"] == pytest.approx(25.0)
    assert board.ranked() == ["b", "a"]
    assert board.version == 1


def test_load_ignores_unknown_providers_and_unchanged_states(clock: FakeClock) -> None:
    board = board_of(["a"], clock)
    board.load([ProviderHealth("ghost", 10.0, 0.1, clock.now)])
    assert [state.name for state in board.states()] == ["a"]
    assert board.version == 0
    board.load(board.states())
    assert board.version == 0


def test_load_keeps_configured_order(clock: FakeClock) -> None:
    board = board_of(["a", "b"], clock)
    board.load([ProviderHealth("b", 49.0, 0.9, None), ProviderHealth("a", 50.0, 0.8, None)])
    assert [state.name for state in board.states()] == ["a", "b"]
