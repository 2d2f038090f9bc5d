"""From runs to rows: one row per (scenario, strategy), pooled over seeds; table and JSON.

A row's JSON keys are part of the public contract (DESIGN.md): ``scenario``, ``strategy``,
``failedTryRate`` (percent of tries that failed), ``preferredShare`` (percent of sent emails
the preferred provider delivered), ``sends`` and ``tries`` (summed over seeds); the others are
extras.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from micromailer.simulate.engine import RunResult


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    strategy: str
    seeds: int
    emails: int
    sends: int
    tries: int
    failed_tries: int
    undelivered: int
    #: Seconds lost in failed tries, per run.
    time_lost: float
    preferred_sends: int
    #: Attempts made while the preferred provider was healthy, and how many it delivered.
    healthy_attempts: int
    healthy_preferred: int
    #: Mean seconds from the end of a fault of the preferred provider to its next delivery.
    return_delay: float | None
    #: The fault ends that mean is over, summed over seeds.
    fault_ends: int = 0

    @property
    def failed_try_rate(self) -> float:
        return 100.0 * self.failed_tries / self.tries if self.tries else 0.0

    @property
    def preferred_share(self) -> float:
        return 100.0 * self.preferred_sends / self.sends if self.sends else 0.0

    @property
    def healthy_preferred_share(self) -> float | None:
        if not self.healthy_attempts:
            return None
        return 100.0 * self.healthy_preferred / self.healthy_attempts

    @property
    def failed_per_run(self) -> float:
        return self.failed_tries / self.seeds

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "strategy": self.strategy,
            "failedTryRate": round(self.failed_try_rate, 4),
            "preferredShare": round(self.preferred_share, 3),
            "sends": self.sends,
            "tries": self.tries,
            "failedTries": self.failed_tries,
            "failedTriesPerRun": round(self.failed_per_run, 2),
            "seeds": self.seeds,
            "emails": self.emails,
            "undelivered": self.undelivered,
            "timeLostSeconds": round(self.time_lost, 1),
            "healthyPreferredShare": _rounded(self.healthy_preferred_share, 3),
            "returnDelaySeconds": _rounded(self.return_delay, 1),
            "faultEnds": self.fault_ends,
        }


def aggregate(results: Iterable[RunResult], preferred: dict[str, str]) -> list[Row]:
    """One row per (scenario, strategy) in first-seen order; ``preferred`` maps a scenario to
    its preferred provider's name."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.strategy), []).append(result)
    rows = []
    for (scenario, strategy), runs in groups.items():
        delays = [delay for run in runs for delay in run.return_delays]
        rows.append(
            Row(
                scenario=scenario,
                strategy=strategy,
                seeds=len(runs),
                emails=sum(run.emails for run in runs),
                sends=sum(run.sends for run in runs),
                tries=sum(run.tries for run in runs),
                failed_tries=sum(run.failed_tries for run in runs),
                undelivered=sum(run.undelivered for run in runs),
                time_lost=statistics.fmean(run.time_lost for run in runs),
                preferred_sends=sum(run.delivered_by.get(preferred[scenario], 0) for run in runs),
                healthy_attempts=sum(run.healthy_attempts for run in runs),
                healthy_preferred=sum(run.healthy_preferred for run in runs),
                return_delay=statistics.fmean(delays) if delays else None,
                fault_ends=len(delays),
            )
        )
    return rows


def to_json(rows: Sequence[Row]) -> str:
    """ONE JSON array, one object per row."""
    return json.dumps([row.as_json() for row in rows])


COLUMNS = (
    ("scenario", 18, "s"),
    ("strategy", 11, "s"),
    ("failed %", 9, ".3f"),
    ("failed/run", 10, ".1f"),
    ("preferred %", 11, ".2f"),
    ("healthy pref %", 14, ".2f"),
    ("return s", 8, ".1f"),
    ("lost s/run", 10, ".0f"),
)


def to_table(rows: Sequence[Row]) -> str:
    """A plain-text table, a blank line between scenarios."""
    lines = [_line(name for name, _, _ in COLUMNS)]
    lines.append(_line("-" * width for _, width, _ in COLUMNS))
    previous = None
    for row in rows:
        if previous is not None and row.scenario != previous:
            lines.append("")
        previous = row.scenario
        values = (
            row.scenario, row.strategy, row.failed_try_rate, row.failed_per_run,
            row.preferred_share, row.healthy_preferred_share, row.return_delay, row.time_lost,
        )
        cells = (
            "-" if value is None else format(value, spec)
            for value, (_, _, spec) in zip(values, COLUMNS, strict=True)
        )
        lines.append(_line(cells))
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class SuiteTotal:
    """One strategy over every scenario of the suite."""

    strategy: str
    #: Failed tries per run, summed over the scenarios.
    failed_per_run: float
    #: The same, less the oracle's (the failures no ranking could avoid), when it ran.
    avoidable_per_run: float | None
    #: Healthy-stretch attempts the preferred provider delivered, pooled over the scenarios.
    healthy_preferred_share: float | None
    #: Mean seconds until the preferred provider delivers again, over every fault end of the
    #: suite.
    return_delay: float | None


def suite_totals(rows: Sequence[Row]) -> list[SuiteTotal]:
    strategies = list(dict.fromkeys(row.strategy for row in rows))
    floor = {row.scenario: row.failed_per_run for row in rows if row.strategy == "oracle"}
    totals = []
    for strategy in strategies:
        mine = [row for row in rows if row.strategy == strategy]
        healthy = sum(row.healthy_attempts for row in mine)
        fault_ends = sum(row.fault_ends for row in mine)
        totals.append(
            SuiteTotal(
                strategy=strategy,
                failed_per_run=sum(row.failed_per_run for row in mine),
                avoidable_per_run=(
                    sum(row.failed_per_run - floor[row.scenario] for row in mine)
                    if all(row.scenario in floor for row in mine) else None
                ),
                healthy_preferred_share=(
                    100.0 * sum(row.healthy_preferred for row in mine) / healthy
                    if healthy else None
                ),
                return_delay=(
                    sum((row.return_delay or 0.0) * row.fault_ends for row in mine) / fault_ends
                    if fault_ends else None
                ),
            )
        )
    return totals


def to_summary(rows: Sequence[Row]) -> str:
    """The suite in a few lines: each strategy's failed tries against the original's."""
    totals = suite_totals(rows)
    reference = next((total for total in totals if total.strategy == "original"), None)
    lines = ["", "suite (failed tries per run summed over the scenarios above):"]
    for total in totals:
        versus = ""
        if reference is not None and reference.failed_per_run:
            versus = f"  {total.failed_per_run / reference.failed_per_run:6.1%} of original's"
        healthy = total.healthy_preferred_share
        back = total.return_delay
        lines.append(
            f"  {total.strategy:<11} {total.failed_per_run:9.1f}{versus}"
            + (f"  healthy-stretch preferred {healthy:6.2f}%" if healthy is not None else "")
            + (f"  back after {back:5.1f} s" if back is not None else "")
        )
    return "\n".join(lines)


def _line(cells: Iterable[str]) -> str:
    parts = []
    for cell, (_, width, spec) in zip(cells, COLUMNS, strict=True):
        parts.append(cell.ljust(width) if spec == "s" else cell.rjust(width))
    return "  ".join(parts).rstrip()


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


__all__ = ["Row", "SuiteTotal", "aggregate", "suite_totals", "to_json", "to_summary", "to_table"]
