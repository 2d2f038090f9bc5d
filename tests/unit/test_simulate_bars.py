"""The simulation's results against the bars of docs/selection.md, on fixed seeds.

One suite run feeds every test here (106 runs of 30 simulated minutes, spread over the cores):
the original and the breaker on every scenario with seeds 0-2, the baselines with seed 0, and
random choice on the original study's scenarios with seeds 0-2.
The documented numbers come from more seeds (``micromailer simulate``, 5 by default). Every
run is deterministic, so a bar the breaker misses on these seeds is a strict expected
failure (``UNMET``): the test fails the day the bar is met, until the list is updated.
"""

from __future__ import annotations

import pytest

from micromailer.simulate.report import Row, SuiteTotal, aggregate, suite_totals
from micromailer.simulate.scenarios import ORIGINAL_SCENARIOS, SCENARIOS
from micromailer.simulate.suite import Job, run_suite

SEEDS = (0, 1, 2)
#: The original study's table: failed tries in percent of tries.
STUDY = {
    "original-outage": {"original": 0.04, "random": 14.01},
    "original-sporadic": {"original": 0.04, "random": 7.59},
    "original-random5": {"original": 0.80, "random": 2.37},
}
#: Bars the default misses on these scenarios, and why (docs/selection.md, "The bars"). They
#: are strict expected failures: meeting one makes its test fail until this list is updated.
UNMET = {
    ("latency-timeouts", "healthy"): "the original never leaves the slow A; staying on it "
    "costs 7 times the failed tries",
    ("latency-timeouts", "return"): "the same: no probe can see A fast again before it answers",
    ("three-providers", "healthy"): "the same cause as its return time",
    ("three-providers", "return"): "the last probe of the outage falls 60 s after its end; "
    "probing more often costs more failed tries than the original",
    # Partial outages: a draw. Both spend about one failed try per probe and probe about as
    # often; who is back first depends on where the random failures fall (breaker wins on
    # seeds 0-4, the original on seeds 0-2 and 0-9).
    ("original-sporadic", "healthy"): "a draw, lost on these seeds",
    ("original-sporadic", "return"): "a draw, lost on these seeds",
    ("both-degraded", "healthy"): "a draw, lost on these seeds",
    ("both-degraded", "return"): "a draw, lost on these seeds",
}
#: Scenarios where the preferred provider has faults that end (a return time to compare).
WITH_RETURNS = tuple(s.name for s in SCENARIOS if s.preferred.behaviour.recoveries(s.duration))
#: Scenarios with healthy stretches of the preferred provider (it is healthy at the start).
WITH_HEALTHY = tuple(s.name for s in SCENARIOS if s.preferred.behaviour.healthy(0.0))


def _bar(scenarios: tuple[str, ...], bar: str) -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=UNMET[(name, bar)]))
        if (name, bar) in UNMET else name
        for name in scenarios
    ]


Rows = dict[tuple[str, str, str], Row]  # (scenario, strategy, "seeds" or "seed0")


@pytest.fixture(scope="module")
def rows() -> Rows:
    jobs = [
        Job(scenario, strategy, seed)
        for scenario in SCENARIOS
        for strategy in ("original", "breaker")
        for seed in SEEDS
    ]
    jobs += [Job(s, "random", seed) for s in SCENARIOS if s.name in ORIGINAL_SCENARIOS
             for seed in SEEDS]
    jobs += [Job(s, strategy, 0) for s in SCENARIOS
             for strategy in ("oracle", "priority", "round-robin")]
    jobs += [Job(s, "random", 0) for s in SCENARIOS if s.name not in ORIGINAL_SCENARIOS]
    results = run_suite(jobs)
    preferred = {scenario.name: scenario.preferred.name for scenario in SCENARIOS}
    table: Rows = {}
    for row in aggregate(results, preferred):
        table[(row.scenario, row.strategy, "seeds")] = row
    for row in aggregate([r for r in results if r.seed == 0], preferred):
        table[(row.scenario, row.strategy, "seed0")] = row
    return table


def test_the_original_and_random_choice_reproduce_the_original_study(rows: Rows) -> None:
    for scenario in ("original-outage", "original-sporadic"):
        assert 0.02 <= rows[(scenario, "original", "seeds")].failed_try_rate <= 0.06
    for scenario, study in STUDY.items():
        assert rows[(scenario, "random", "seeds")].failed_try_rate == pytest.approx(
            study["random"], abs=1.0
        )
    # 5% random failures: the study's 0.80% was one run. Its own script, run again on seeds
    # 0-7, gives 0.79% to 2.19% (mean 1.30%): the rule is very sensitive to where failures
    # bunch up. We check we land in that spread.
    assert 0.7 <= rows[("original-random5", "original", "seeds")].failed_try_rate <= 2.3


def test_the_oracle_is_a_lower_bound_on_every_scenario(rows: Rows) -> None:
    strategies = {key[1] for key in rows}
    for scenario in SCENARIOS:
        floor = rows[(scenario.name, "oracle", "seed0")].failed_tries
        for strategy in strategies - {"oracle"}:
            assert rows[(scenario.name, strategy, "seed0")].failed_tries >= floor, (
                scenario.name, strategy,
            )


def test_the_breaker_fails_no_more_tries_than_the_original_on_every_scenario(rows: Rows) -> None:
    for scenario in SCENARIOS:
        mine = rows[(scenario.name, "breaker", "seeds")].failed_tries
        theirs = rows[(scenario.name, "original", "seeds")].failed_tries
        assert mine <= theirs, (scenario.name, mine, theirs)


def test_the_breaker_fails_half_as_many_tries_as_the_original_over_the_suite(rows: Rows) -> None:
    mine = sum(rows[(s.name, "breaker", "seeds")].failed_tries for s in SCENARIOS)
    theirs = sum(rows[(s.name, "original", "seeds")].failed_tries for s in SCENARIOS)
    assert mine <= 0.5 * theirs, (mine, theirs)


def _suite(rows: Rows) -> dict[str, SuiteTotal]:
    """The original's and the breaker's totals over the suite."""
    chosen = [rows[(s.name, strategy, "seeds")] for strategy in ("original", "breaker")
              for s in SCENARIOS]
    return {total.strategy: total for total in suite_totals(chosen)}


def test_the_breaker_keeps_the_preferred_provider_at_least_as_busy_pooled(rows: Rows) -> None:
    suite = _suite(rows)
    mine = suite["breaker"].healthy_preferred_share
    theirs = suite["original"].healthy_preferred_share
    assert mine is not None and theirs is not None
    assert mine >= theirs, (mine, theirs)


def test_the_breaker_is_back_on_the_preferred_provider_sooner_pooled(rows: Rows) -> None:
    """Over every fault end of the suite, as the share above is over every attempt."""
    suite = _suite(rows)
    mine = suite["breaker"].return_delay
    theirs = suite["original"].return_delay
    assert mine is not None and theirs is not None
    assert mine <= theirs, (mine, theirs)


@pytest.mark.parametrize("scenario", _bar(WITH_HEALTHY, "healthy"))
def test_the_breaker_keeps_the_preferred_provider_at_least_as_busy_when_it_is_healthy(
    rows: Rows, scenario: str
) -> None:
    mine = rows[(scenario, "breaker", "seeds")].healthy_preferred_share
    theirs = rows[(scenario, "original", "seeds")].healthy_preferred_share
    assert mine is not None and theirs is not None
    assert mine >= theirs, (scenario, mine, theirs)


@pytest.mark.parametrize("scenario", _bar(WITH_RETURNS, "return"))
def test_the_breaker_is_back_on_the_preferred_provider_no_later_after_a_fault(
    rows: Rows, scenario: str
) -> None:
    mine = rows[(scenario, "breaker", "seeds")].return_delay
    theirs = rows[(scenario, "original", "seeds")].return_delay
    assert mine is not None and theirs is not None
    assert mine <= theirs, (scenario, mine, theirs)


def test_the_breaker_respects_retry_after_one_failed_try_per_rate_limit_burst(rows: Rows) -> None:
    """Held off for exactly the Retry-After each 429 names, A fails once per burst (the first
    try that meets it) and is first again within a second of the burst's end."""
    scenario = next(s for s in SCENARIOS if s.name == "rate-limit-429")
    behaviour = scenario.preferred.behaviour
    bursts = len(behaviour.recoveries(scenario.duration))
    row = rows[("rate-limit-429", "breaker", "seeds")]
    assert row.failed_tries == bursts * len(SEEDS)
    assert row.return_delay is not None and row.return_delay <= 1.0
