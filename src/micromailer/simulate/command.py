"""What ``micromailer simulate`` does, so that ``cli.py`` only declares its options."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from micromailer.simulate.engine import RunResult
from micromailer.simulate.extra import load_greenlet, load_pyplot
from micromailer.simulate.report import aggregate, to_json, to_summary, to_table
from micromailer.simulate.suite import jobs_for, run_suite, select


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    seeds: int
    scenarios: Sequence[str] = ()
    strategies: Sequence[str] = ()
    as_json: bool = False
    plot_dir: Path | None = None
    service_bases: bool = False
    processes: int | None = None
    #: With ``plot_dir``: also sweep outage lengths (original and breaker) and plot them.
    sweep: bool = False


def run_simulate(options: SimulateOptions) -> str:
    """Run the selected suite and return what to print: the table, or ONE JSON array.

    Shows a progress bar on stderr when it is a terminal and JSON was not asked for. Raises
    :class:`ValueError` for an unknown scenario or strategy, and
    :class:`~micromailer.simulate.extra.MissingExtraError` before any run if the ``simulate``
    extra is not installed.
    """
    load_greenlet()
    if options.plot_dir is not None:
        load_pyplot()
    scenarios, strategies = select(
        options.scenarios, options.strategies, service_bases=options.service_bases
    )
    jobs = jobs_for(scenarios, strategies, options.seeds, plots=options.plot_dir is not None)
    show_progress = not options.as_json and sys.stderr.isatty()
    with click.progressbar(
        length=len(jobs), label="simulating", file=sys.stderr, hidden=not show_progress
    ) as bar:

        def advance(_: RunResult) -> None:
            bar.update(1)

        results = run_suite(jobs, processes=options.processes, on_done=advance)
    rows = aggregate(results, {scenario.name: scenario.preferred.name for scenario in scenarios})
    if options.plot_dir is not None:
        from micromailer.simulate.plots import write_figures

        for path in write_figures(options.plot_dir, scenarios, results, rows):
            click.echo(f"wrote {path}", err=True)
        if options.sweep:
            from micromailer.simulate.sweep import outage_sweep, sweep_figure

            points = outage_sweep(("original", "breaker"), processes=options.processes)
            path = sweep_figure(options.plot_dir / "outage-sweep.png", points)
            click.echo(f"wrote {path}", err=True)
    if options.as_json:
        return to_json(rows)
    return to_table(rows) + "\n" + to_summary(rows)


__all__ = ["SimulateOptions", "run_simulate"]
