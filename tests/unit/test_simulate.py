"""The simulation's machinery: determinism, each baseline's defining behaviour, retries, the
CLI's JSON rows and figures. The result bars are in test_simulate_bars.py."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from micromailer.cli import main
from micromailer.simulate.engine import MAX_ATTEMPTS, run_once
from micromailer.simulate.faults import Failing, Healthy, Slowing
from micromailer.simulate.policies import OracleBoard, RandomBoard, RoundRobinBoard
from micromailer.simulate.scenarios import Scenario, SimProvider, get_scenario

BASES = {"A": 50.0, "B": 40.0, "C": 30.0}


def _clock() -> float:
    return 0.0


def _short(name: str, *providers: SimProvider, duration: float = 120.0) -> Scenario:
    return Scenario(name, name, providers, duration=duration)


# -- determinism --------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    scenario = get_scenario("original-sporadic")
    first, again = run_once(scenario, "original", 3), run_once(scenario, "original", 3)
    assert first == again
    assert run_once(scenario, "original", 4) != first


def test_every_strategy_meets_the_same_luck_on_a_seed() -> None:
    """Draws depend on (seed, provider, email, attempt), not on the order of tries: the
    priority strategy tries A for every email, so it sees exactly the failures A would give."""
    scenario = _short(
        "luck", SimProvider("A", 50.0, Failing(0.3)), SimProvider("B", 40.0, Healthy())
    )
    priority, oracle = run_once(scenario, "priority", 7), run_once(scenario, "oracle", 7)
    assert oracle.failed_tries == 0
    assert oracle.delivered_by["B"] == priority.failed_tries  # the emails A would have failed


# -- the baselines ------------------------------------------------------------------------


def test_random_gives_each_email_a_fresh_random_order() -> None:
    board = RandomBoard(BASES, _clock, random.Random(1))
    orders = [tuple(board.ranked()) for _ in range(600)]
    assert all(sorted(order) == ["A", "B", "C"] for order in orders)
    firsts = [order[0] for order in orders]
    assert all(150 < firsts.count(name) < 250 for name in BASES)


def test_round_robin_starts_each_email_one_further() -> None:
    board = RoundRobinBoard(BASES, _clock)
    assert [board.ranked() for _ in range(4)] == [
        ["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"], ["A", "B", "C"],
    ]


def test_the_oracle_puts_first_the_most_preferred_provider_that_will_accept() -> None:
    accepts = {"A": False, "B": True, "C": True}
    board = OracleBoard(BASES, _clock, accepts.__getitem__)
    assert board.ranked() == ["B", "C", "A"]
    accepts["B"] = False
    assert board.ranked() == ["C", "A", "B"]


def test_priority_fails_every_email_of_an_outage_once_and_the_original_three_times_only() -> None:
    scenario = get_scenario("original-outage")
    priority, original = run_once(scenario, "priority", 0), run_once(scenario, "original", 0)
    assert priority.failed_tries == 5999  # every email strictly between t=200 s and t=800 s
    assert priority.tries == priority.emails + priority.failed_tries  # failed over, delivered
    assert priority.sends == priority.emails
    # 50 -> 45 -> 40.5 -> 36.45 < 40 after three failures, then a probe on every climb back
    assert original.failed_tries == 7


def test_the_breaker_parks_after_one_failure_and_is_back_within_its_longest_backoff() -> None:
    run = run_once(get_scenario("original-outage"), "breaker", 0)
    # probes at 200.1, 220.1, 260.1, 340.1, 500.1, 680.1 s; the one at 860.1 s succeeds
    assert run.failed_tries == 6
    assert run.return_delays == [pytest.approx(60.1)]


# -- the engine ---------------------------------------------------------------------------


def test_an_attempt_where_every_provider_failed_is_retried_as_the_worker_would() -> None:
    down = Failing(1.0, 30.0, 35.0)
    scenario = _short("both down", SimProvider("A", 50.0, down), SimProvider("B", 40.0, down))
    run = run_once(scenario, "original", 0)
    assert run.undelivered == 0 and run.sends == run.emails
    # the 49 emails sent strictly between 30 s and 35 s failed on both, then went ~10 s later
    assert run.failed_tries == 2 * 49
    assert run.tries == run.emails + 2 * 49


def test_an_email_is_given_up_after_max_attempts() -> None:
    down = Failing(1.0)
    scenario = _short("all down", SimProvider("A", 50.0, down), SimProvider("B", 40.0, down),
                      duration=5.0)
    run = run_once(scenario, "breaker", 0)
    assert run.undelivered == run.emails == 50
    assert run.tries == run.failed_tries == 50 * 2 * MAX_ATTEMPTS


def test_time_lost_counts_the_seconds_spent_waiting_on_timeouts() -> None:
    slow = Slowing(-1.0, 1e9, median=100.0, sigma=0.01, timeout=20.0, normal=0.2)
    scenario = _short(
        "timeouts", SimProvider("A", 50.0, slow), SimProvider("B", 40.0, Healthy(0.4)),
        duration=10.0,
    )
    run = run_once(scenario, "priority", 0)
    assert run.failed_tries == run.emails == 100  # all in flight before the first timeout ends
    assert run.time_lost == pytest.approx(100 * 20.0)


def test_eight_workers_with_memory_boards_each_learn_the_outage_alone() -> None:
    memory = run_once(get_scenario("workers8-memory"), "breaker", 0)
    shared = run_once(get_scenario("workers8-shared"), "breaker", 0)
    assert memory.failed_tries == 8 * shared.failed_tries


# -- the command --------------------------------------------------------------------------


def test_json_prints_one_array_of_rows_with_the_contract_keys() -> None:
    result = CliRunner().invoke(main, [
        "simulate", "--json", "--seeds", "1", "--processes", "1",
        "--scenario", "original-outage", "--strategy", "original", "--strategy", "oracle",
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(row["scenario"], row["strategy"]) for row in rows] == [
        ("original-outage", "original"), ("original-outage", "oracle"),
    ]
    for row in rows:
        assert isinstance(row["failedTryRate"], float) and isinstance(row["preferredShare"], float)
        assert isinstance(row["sends"], int) and isinstance(row["tries"], int)
        assert row["sends"] == 18_000 and row["tries"] >= row["sends"]
    assert rows[0]["failedTryRate"] == pytest.approx(100 * 7 / 18_007, abs=1e-4)
    assert rows[1]["failedTryRate"] == 0.0


def test_an_unknown_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["simulate", "--scenario", "nope", "--seeds", "1"])
    assert result.exit_code == 2
    assert "unknown scenario(s) nope" in result.output


def test_the_table_ends_with_the_suite_against_the_original() -> None:
    result = CliRunner().invoke(main, [
        "simulate", "--seeds", "1", "--processes", "1", "--scenario", "flapping",
        "--strategy", "original", "--strategy", "breaker",
    ])
    assert result.exit_code == 0, result.output
    assert "flapping" in result.output and "of original's" in result.output


def test_plot_writes_non_empty_pngs(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "simulate", "--seeds", "1", "--processes", "1", "--plot", str(tmp_path),
        "--scenario", "flapping", "--strategy", "original", "--strategy", "breaker",
    ])
    assert result.exit_code == 0, result.output
    pngs = sorted(path.name for path in tmp_path.glob("*.png"))
    assert pngs == ["failed-tries.png", "scores-flapping.png"]
    for name in pngs:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / name).stat().st_size > 5_000


def test_service_bases_rebase_the_scenarios_to_50_49_48() -> None:
    result = CliRunner().invoke(main, [
        "simulate", "--json", "--seeds", "1", "--processes", "1", "--service-bases",
        "--scenario", "original-outage", "--strategy", "original",
    ])
    # with 49 behind it, one failure (50 * 0.9 = 45) already ranks A second
    assert json.loads(result.output)[0]["failedTries"] == 3
    assert get_scenario("original-outage").providers[1].base_score == 40.0  # catalogue untouched
