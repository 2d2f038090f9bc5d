"""Outage-length sweep: failed tries and time back on the preferred provider, per outage length.

One fixed outage cannot judge "back sooner": where it ends relative to a strategy's probes is
luck. Sweeping the length (the preferred provider ``A`` down from t=200 s for ``L`` seconds)
shows each strategy's whole curve: failed tries grow with ``L``, the return delay saw-tooths
between 0 and the strategy's longest probe gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from micromailer.simulate.engine import RunResult
from micromailer.simulate.faults import Failing, Healthy
from micromailer.simulate.scenarios import Scenario, SimProvider
from micromailer.simulate.suite import Job, run_suite

#: Outage lengths swept by default: 15 s to 20 minutes, every 15 s.
LENGTHS = tuple(range(15, 1201, 15))
SETUPS = ("two providers", "three providers")


@dataclass(frozen=True, slots=True)
class SweepPoint:
    setup: str
    strategy: str
    length: float
    failed_tries: int
    return_delay: float


def outage_scenario(length: float, setup: str = "two providers") -> Scenario:
    """``A`` (50) down from 200 s for ``length`` s; ``B`` (40) healthy, or with three providers
    ``B`` failing half its tries from 400 s to 1000 s and ``C`` (30) healthy (as in the
    ``three-providers`` scenario)."""
    outage = SimProvider("A", 50.0, Failing(1.0, 200.0, 200.0 + length))
    if setup == "two providers":
        providers: tuple[SimProvider, ...] = (outage, SimProvider("B", 40.0, Healthy()))
    else:
        providers = (
            outage,
            SimProvider("B", 40.0, Failing(0.5, 400.0, 1000.0)),
            SimProvider("C", 30.0, Healthy()),
        )
    return Scenario(f"outage-{length:g}s-{setup}", f"A down {length:g} s", providers,
                    duration=200.0 + length + 400.0)


def outage_sweep(
    strategies: Sequence[str], lengths: Sequence[float] = LENGTHS, *, processes: int | None = None
) -> list[SweepPoint]:
    """One run (seed 0) per setup, strategy and outage length."""
    jobs = [
        Job(outage_scenario(length, setup), strategy, 0)
        for setup in SETUPS
        for length in lengths
        for strategy in strategies
    ]
    results = run_suite(jobs, processes=processes)
    return [_point(job, result) for job, result in zip(jobs, results, strict=True)]


def _point(job: Job, result: RunResult) -> SweepPoint:
    setup = "two providers" if len(job.scenario.providers) == 2 else "three providers"
    length = job.scenario.duration - 600.0
    delay = result.return_delays[0] if result.return_delays else 400.0
    return SweepPoint(setup, job.strategy, length, result.failed_tries, delay)


def sweep_figure(path: Path, points: Sequence[SweepPoint]) -> Path:
    """Failed tries (top) and return delay (bottom) against outage length, one column per
    setup."""
    from micromailer.simulate.extra import load_pyplot
    from micromailer.simulate.plots import STRATEGY_COLOURS

    plt = load_pyplot()
    setups = list(dict.fromkeys(point.setup for point in points))
    fig, axes = plt.subplots(2, len(setups), figsize=(5.5 * len(setups), 6), sharex=True,
                             squeeze=False)
    for column, setup in enumerate(setups):
        for strategy in dict.fromkeys(point.strategy for point in points):
            mine = [p for p in points if p.setup == setup and p.strategy == strategy]
            xs = [p.length for p in mine]
            colour = STRATEGY_COLOURS.get(strategy)
            axes[0, column].plot(xs, [p.failed_tries for p in mine], label=strategy, color=colour)
            axes[1, column].plot(xs, [p.return_delay for p in mine], label=strategy, color=colour)
        axes[0, column].set_title(setup, fontsize=10)
        axes[0, column].set_ylabel("failed tries")
        axes[1, column].set_ylabel("back on A after [s]")
        axes[1, column].set_xlabel("outage length [s]")
        axes[0, column].legend(fontsize=8)
    fig.suptitle("A complete outage of the preferred provider, by length", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["LENGTHS", "SETUPS", "SweepPoint", "outage_scenario", "outage_sweep", "sweep_figure"]
