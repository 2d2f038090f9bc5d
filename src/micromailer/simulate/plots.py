"""Figures (PNG, matplotlib's Agg backend): scores over time, failed tries per strategy.

matplotlib (the ``simulate`` extra) is imported only when a figure is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from micromailer.simulate.engine import RunResult
from micromailer.simulate.extra import load_pyplot
from micromailer.simulate.report import Row
from micromailer.simulate.scenarios import Scenario

#: Line colours by provider position (preferred first), and by strategy for the bars.
PROVIDER_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple")
STRATEGY_COLOURS = {
    "original": "tab:blue",
    "breaker": "tab:green",
    "priority": "tab:gray",
    "random": "tab:orange",
    "round-robin": "tab:brown",
    "oracle": "black",
}


def write_figures(
    directory: Path,
    scenarios: Sequence[Scenario],
    results: Sequence[RunResult],
    rows: Sequence[Row],
) -> list[Path]:
    """Write one score figure per scenario (for the runs that sampled scores) and the bar
    chart; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    sampled = [result for result in results if result.times]
    for scenario in scenarios:
        runs = [result for result in sampled if result.scenario == scenario.name]
        if runs:
            written.append(score_figure(directory / f"scores-{scenario.name}.png", scenario, runs))
    written.append(failure_bars(directory / "failed-tries.png", rows))
    return written


def score_figure(path: Path, scenario: Scenario, runs: Sequence[RunResult]) -> Path:
    """Each provider's score over time, one panel per strategy; grey where the preferred
    provider is in trouble (as the original study's figure, without its smoothing)."""
    plt = load_pyplot()
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 2.6 * len(runs)), sharex=True, squeeze=False)
    trouble = _trouble(scenario)
    top = max(provider.base_score for provider in scenario.providers) * 1.1
    for axis, run in zip(axes[:, 0], runs, strict=True):
        for start, end in trouble:
            axis.axvspan(start, end, color="0.9", linewidth=0)
        for index, provider in enumerate(scenario.providers):
            axis.plot(
                run.times, run.scores[provider.name], linewidth=1.1,
                color=PROVIDER_COLOURS[index % len(PROVIDER_COLOURS)],
                label=f"{provider.name} (base {provider.base_score:g})",
            )
        rate = 100.0 * run.failed_tries / run.tries if run.tries else 0.0
        axis.set_title(
            f"{run.strategy}: {run.failed_tries} failed tries ({rate:.2f}%), seed {run.seed}",
            fontsize=10,
        )
        axis.set_ylim(0, top)
        axis.set_ylabel("score")
        axis.legend(loc="lower right", fontsize=8)
    axes[-1, 0].set_xlabel("time [s]")
    fig.suptitle(f"{scenario.name}: {scenario.title}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def failure_bars(path: Path, rows: Sequence[Row]) -> Path:
    """Failed-try rate per strategy per scenario (symmetric log scale: 0 stays visible)."""
    plt = load_pyplot()
    scenarios = list(dict.fromkeys(row.scenario for row in rows))
    strategies = list(dict.fromkeys(row.strategy for row in rows))
    by_key = {(row.scenario, row.strategy): row for row in rows}
    width = 0.8 / max(1, len(strategies))
    fig, axis = plt.subplots(figsize=(max(8.0, 1.3 * len(scenarios)), 4.8))
    for index, strategy in enumerate(strategies):
        xs, ys = [], []
        for position, scenario in enumerate(scenarios):
            row = by_key.get((scenario, strategy))
            if row is not None:
                xs.append(position + (index - (len(strategies) - 1) / 2) * width)
                ys.append(row.failed_try_rate)
        axis.bar(xs, ys, width, label=strategy, color=STRATEGY_COLOURS.get(strategy))
    axis.set_yscale("symlog", linthresh=0.01)
    axis.set_ylabel("failed tries [% of tries]")
    axis.set_xticks(range(len(scenarios)), scenarios, rotation=30, ha="right", fontsize=8)
    axis.legend(fontsize=8, ncols=min(len(strategies), 6))
    axis.set_title("Failed tries per strategy (lower is better; the oracle is the floor)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _trouble(scenario: Scenario) -> list[tuple[float, float]]:
    """Stretches (by the second) when the preferred provider is not healthy."""
    behaviour = scenario.preferred.behaviour
    spans: list[tuple[float, float]] = []
    start = None
    for second in range(int(scenario.duration) + 1):
        t = second + 0.5
        if not behaviour.healthy(t) and start is None:
            start = float(second)
        elif behaviour.healthy(t) and start is not None:
            spans.append((start, float(second)))
            start = None
    if start is not None:
        spans.append((start, scenario.duration))
    return spans


__all__ = [
    "PROVIDER_COLOURS",
    "STRATEGY_COLOURS",
    "failure_bars",
    "load_pyplot",
    "score_figure",
    "write_figures",
]
