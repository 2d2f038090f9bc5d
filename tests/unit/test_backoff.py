"""Backoff: base, doubling, ±20 % jitter, a cap, and never sooner than Retry-After."""

from __future__ import annotations

import itertools
import random

import pytest

from micromailer.delivery.backoff import retry_delay

BASE = 10.0
CAP = 600.0


def delays(attempt: int, *, seed: int = 1, draws: int = 500, **kwargs: float) -> list[float]:
    rng = random.Random(seed)
    options = {"base": BASE, "cap": CAP, **kwargs}
    return [retry_delay(attempt, rng=rng, **options) for _ in range(draws)]


def test_first_delay_is_base_within_twenty_percent_jitter() -> None:
    seen = delays(1)

    assert all(0.8 * BASE <= delay <= 1.2 * BASE for delay in seen)


def test_jitter_really_spreads_the_delays_over_most_of_the_band() -> None:
    seen = delays(1)

    assert min(seen) < 0.85 * BASE
    assert max(seen) > 1.15 * BASE


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5])
def test_delay_doubles_with_each_further_attempt(attempt: int) -> None:
    same_jitter = random.Random(7).uniform(0.8, 1.2)

    delay = retry_delay(attempt, base=BASE, cap=CAP, rng=random.Random(7))

    assert delay == pytest.approx(BASE * 2 ** (attempt - 1) * same_jitter)


def test_each_attempt_waits_twice_as_long_as_the_one_before_for_the_same_jitter() -> None:
    series = [retry_delay(n, base=BASE, cap=CAP, rng=random.Random(3)) for n in range(1, 6)]

    assert [later / earlier for earlier, later in itertools.pairwise(series)] == (
        pytest.approx([2.0, 2.0, 2.0, 2.0])
    )


@pytest.mark.parametrize("attempt", [7, 8, 12, 20])
def test_delay_never_exceeds_the_cap_even_with_jitter(attempt: int) -> None:
    seen = delays(attempt)

    assert all(0.8 * CAP <= delay <= CAP for delay in seen)


def test_a_delay_just_below_the_cap_is_still_jittered_downwards() -> None:
    # 10 x 2**5 = 320 s, below the 600 s cap: the full ±20 % band applies.
    seen = delays(6)

    assert min(seen) < 0.85 * 320
    assert max(seen) > 1.15 * 320


def test_retry_after_is_a_floor_when_it_is_longer_than_the_backoff() -> None:
    seen = delays(1, retry_after=90.0)

    assert seen == [90.0] * len(seen)


def test_retry_after_shorter_than_the_backoff_changes_nothing() -> None:
    assert delays(3, retry_after=1.0) == delays(3)


def test_retry_after_is_honoured_even_above_the_cap() -> None:
    assert retry_delay(1, base=BASE, cap=CAP, retry_after=900.0) == 900.0


def test_zero_retry_after_is_no_floor() -> None:
    assert delays(2, retry_after=0.0) == delays(2)


def test_the_same_seed_gives_the_same_delays() -> None:
    assert delays(2, seed=42, draws=20) == delays(2, seed=42, draws=20)


def test_different_seeds_give_different_delays() -> None:
    assert delays(2, seed=42, draws=20) != delays(2, seed=43, draws=20)


def test_without_an_injected_rng_delays_stay_within_the_band() -> None:
    seen = [retry_delay(2, base=BASE, cap=CAP) for _ in range(200)]

    assert all(0.8 * 2 * BASE <= delay <= 1.2 * 2 * BASE for delay in seen)
