"""The simulation's results against the bars of docs/selection.md, on fixed seeds.

One suite run feeds every test here (106 runs of 30 simulated minutes, spread over the cores):
the original and the breaker on every scenario with seeds 0-2, the baselines with seed 0, and
random choice on the original study's scenarios with seeds 0-2.
The documented numbers come from more seeds (``micromailer simulate``, 5 by default).
"""

from __future__ import annotations

import pytest

from micromailer.simulate.report import Row, aggregate
from micromailer.simulate.scenarios import ORIGINAL_SCENARIOS, SCENARIOS
from micromailer.simulate.suite import Job, run_suite

SEEDS = (0, 1, 2)
#: The original study's table: failed tries in percent of tries.
STUDY = {
    "original-outage": {"original": 0.04, "random": 14.01},
    "original-sporadic": {"original": 0.04, "random": 7.59},
    "original-random5": {"original": 0.80, "random": 2.37},
}
#: Complete outages of the preferred provider with one alternative: "back no later" applies.
OUTAGES = ("original-outage", "flapping", "rate-limit-429", "workers8-memory", "workers8-shared")

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


def test_the_breaker_keeps_the_preferred_provider_at_least_as_busy_when_it_is_healthy(
    rows: Rows,
) -> None:
    def pooled(strategy: str) -> float:
        chosen = [rows[(s.name, strategy, "seeds")] for s in SCENARIOS]
        return sum(r.healthy_preferred for r in chosen) / sum(r.healthy_attempts for r in chosen)

    assert pooled("breaker") >= pooled("original")
    for scenario in OUTAGES:
        mine = rows[(scenario, "breaker", "seeds")].healthy_preferred_share
        theirs = rows[(scenario, "original", "seeds")].healthy_preferred_share
        assert mine is not None and theirs is not None and mine >= theirs, scenario


def test_the_breaker_is_back_on_the_preferred_provider_no_later_after_an_outage(
    rows: Rows,
) -> None:
    for scenario in OUTAGES:
        mine = rows[(scenario, "breaker", "seeds")].return_delay
        theirs = rows[(scenario, "original", "seeds")].return_delay
        assert mine is not None and theirs is not None and mine <= theirs, (scenario, mine, theirs)
