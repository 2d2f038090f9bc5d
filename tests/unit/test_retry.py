"""Retry policy: one backoff (base, doubling, ±20 % jitter, a cap, never sooner than Retry-After)
and the named policies built on it."""

from __future__ import annotations

import itertools
import random

import pytest

from micromailer.retry import (
    RECORD_RETRY,
    TASK_STORE_DOWN_RETRY,
    Backoff,
    DeliveryRetryPolicy,
    PatientRetry,
    backoff_delay,
)

BASE = 10.0
CAP = 600.0


def delays(attempt: int, *, seed: int = 1, draws: int = 500, **kwargs: float) -> list[float]:
    rng = random.Random(seed)
    options = {"base": BASE, "cap": CAP, **kwargs}
    return [backoff_delay(attempt, rng=rng, **options) for _ in range(draws)]


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

    delay = backoff_delay(attempt, base=BASE, cap=CAP, rng=random.Random(7))

    assert delay == pytest.approx(BASE * 2 ** (attempt - 1) * same_jitter)


def test_each_attempt_waits_twice_as_long_as_the_one_before_for_the_same_jitter() -> None:
    series = [backoff_delay(n, base=BASE, cap=CAP, rng=random.Random(3)) for n in range(1, 6)]

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
    assert backoff_delay(1, base=BASE, cap=CAP, retry_after=900.0) == 900.0


def test_zero_retry_after_is_no_floor() -> None:
    assert delays(2, retry_after=0.0) == delays(2)


def test_the_same_seed_gives_the_same_delays() -> None:
    assert delays(2, seed=42, draws=20) == delays(2, seed=42, draws=20)


def test_different_seeds_give_different_delays() -> None:
    assert delays(2, seed=42, draws=20) != delays(2, seed=43, draws=20)


def test_without_an_injected_rng_delays_stay_within_the_band() -> None:
    seen = [backoff_delay(2, base=BASE, cap=CAP) for _ in range(200)]

    assert all(0.8 * 2 * BASE <= delay <= 1.2 * 2 * BASE for delay in seen)


def test_no_jitter_gives_the_exact_doubling() -> None:
    assert [backoff_delay(n, base=0.1, cap=2.0, jitter=0.0) for n in range(1, 7)] == (
        pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0])
    )


# -- the named policies -------------------------------------------------------------------


def test_a_delivery_is_retried_after_each_attempt_but_the_last() -> None:
    policy = DeliveryRetryPolicy(max_attempts=3, delay=10.0, delay_max=600.0)

    delays = [policy.retry_in(n, rng=random.Random(5)) for n in (1, 2, 3, 4)]

    same_jitter = random.Random(5).uniform(0.8, 1.2)
    assert delays[:2] == pytest.approx([10.0 * same_jitter, 20.0 * same_jitter])
    assert delays[2:] == [None, None]


def test_a_delivery_retry_waits_for_retry_after() -> None:
    assert DeliveryRetryPolicy().retry_in(1, retry_after=120.0) == 120.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_patient_retry_rides_out_failures_with_growing_pauses() -> None:
    time = FakeTime()
    answers: list[Exception | str] = [ConnectionError(), ConnectionError(), "done"]

    def operation() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = RECORD_RETRY.call(operation, (ConnectionError,), "writing",
                               sleep=time.sleep, monotonic=time.monotonic)

    assert result == "done"
    assert time.pauses == pytest.approx([0.1, 0.2])


def test_a_patient_retry_gives_up_once_the_next_pause_would_end_past_its_patience() -> None:
    time = FakeTime()
    policy = PatientRetry(Backoff(base=1.0, cap=4.0, jitter=0.0), patience=10.0)

    def down() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        policy.call(down, (ConnectionError,), "writing", sleep=time.sleep,
                    monotonic=time.monotonic)

    assert time.pauses == [1.0, 2.0, 4.0]  # the next, 4 s at 7 s, would end past 10 s


def test_a_patient_retry_lets_other_errors_through_at_once() -> None:
    time = FakeTime()

    def refused() -> None:
        raise ValueError("not an outage")

    with pytest.raises(ValueError):
        RECORD_RETRY.call(refused, (ConnectionError,), "writing", sleep=time.sleep,
                          monotonic=time.monotonic)
    assert time.pauses == []


def test_a_task_whose_store_is_down_comes_back_after_a_growing_countdown() -> None:
    countdowns = [TASK_STORE_DOWN_RETRY.countdown(retries) for retries in range(8)]

    assert 0.8 <= countdowns[0] <= 1.2
    assert all(0.8 * 30 <= countdown <= 30 for countdown in countdowns[6:])
