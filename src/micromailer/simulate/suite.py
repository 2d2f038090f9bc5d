"""The suite: every (scenario, strategy, seed) run, spread over the machine's cores."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from micromailer.simulate.engine import RunResult, run_once
from micromailer.simulate.policies import strategy_names
from micromailer.simulate.scenarios import SCENARIOS, Scenario, with_service_bases

#: Seeds a run averages over unless told otherwise.
DEFAULT_SEEDS = 5
#: Strategies whose scores are worth plotting (the baselines' scores never move).
SCORED = ("original", "breaker")


@dataclass(frozen=True, slots=True)
class Job:
    scenario: Scenario
    strategy: str
    seed: int
    sample_scores: bool = False


def select(
    scenarios: Sequence[str] = (), strategies: Sequence[str] = (), *, service_bases: bool = False
) -> tuple[list[Scenario], list[str]]:
    """The scenarios and strategies named (all when none is), checked; ``ValueError`` if one
    is unknown."""
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in scenarios if name not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    names = strategy_names()
    wrong = [name for name in strategies if name not in names]
    if wrong:
        raise ValueError(f"unknown strategy(ies) {', '.join(wrong)}; known: {', '.join(names)}")
    chosen = [known[name] for name in dict.fromkeys(scenarios)] or list(SCENARIOS)
    if service_bases:
        chosen = [with_service_bases(scenario) for scenario in chosen]
    return chosen, list(dict.fromkeys(strategies)) or names


def jobs_for(
    scenarios: Sequence[Scenario], strategies: Sequence[str], seeds: int, *, plots: bool = False
) -> list[Job]:
    """One job per scenario, strategy and seed (seeds ``0 … seeds-1``); with ``plots``, seed 0
    of each scored strategy also samples its scores."""
    return [
        Job(scenario, strategy, seed, plots and seed == 0 and strategy in SCORED)
        for scenario in scenarios
        for seed in range(seeds)
        for strategy in strategies
    ]


def run_job(job: Job) -> RunResult:
    return run_once(job.scenario, job.strategy, job.seed, sample_scores=job.sample_scores)


def run_suite(
    jobs: Sequence[Job],
    *,
    processes: int | None = None,
    on_done: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Every job's result, in the jobs' order; ``processes`` defaults to the cores available.

    Runs are independent and deterministic, so spreading them over processes changes nothing
    but the time taken.
    """
    workers = min(len(jobs), processes or _cores())
    if workers <= 1:
        results = []
        for job in jobs:
            results.append(run_job(job))
            if on_done is not None:
                on_done(results[-1])
        return results
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = []
        for result in pool.map(run_job, jobs, chunksize=1):
            results.append(result)
            if on_done is not None:
                on_done(result)
        return results


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


__all__ = ["DEFAULT_SEEDS", "SCORED", "Job", "jobs_for", "run_job", "run_suite", "select"]
