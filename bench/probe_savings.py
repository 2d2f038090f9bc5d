"""What synthetic probes save, in the simulation: failed tries and the return to the preferred
provider after its outage.

The scenario ``original-outage`` (A, preferred, fails every try from t=200 s, then recovers; B
healthy; 10 emails a second for 30 minutes) through the real Dispatcher, with each strategy,
without probes and with probes of both providers every ``--intervals`` seconds
(``Engine(probe_interval=...)``: a probe's answer is drawn as a try's would be and taught to
the board as the worker's probes do, ``delivery/probes.py``). A full outage makes a run
deterministic, and where a recovery falls in the strategy's backoff decides how long the return
takes, so the outage ends at ``--ends`` different times (800 s, 823 s, 846 s…) rather than
on several seeds. Prints the failed email tries per run and the seconds from A's recovery to
its first delivery again (mean and worst), and writes ``bench/results/probe_savings.json``.

    .venv/bin/python -m bench.probe_savings [--ends 8] [--intervals 5,10,15,30,60]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

from micromailer.simulate.engine import run_once
from micromailer.simulate.faults import Failing
from micromailer.simulate.scenarios import Scenario, get_scenario

RESULTS = Path(__file__).parent / "results" / "probe_savings.json"
SCENARIO = "original-outage"
#: The outage starts here and ends at ``FIRST_END``, ``FIRST_END + STEP``…
START, FIRST_END, STEP = 200.0, 800.0, 23.0


def outages(ends: int) -> list[Scenario]:
    """``original-outage`` with A's outage ending at ``ends`` different times."""
    base = get_scenario(SCENARIO)
    preferred, *others = base.providers
    return [
        replace(base, providers=(
            replace(preferred, behaviour=Failing(1.0, START, FIRST_END + STEP * index)),
            *others,
        ))
        for index in range(ends)
    ]


def measure(strategy: str, interval: float | None, ends: int) -> dict[str, object]:
    """Failed tries and return delays of ``strategy`` over the outages."""
    runs = [run_once(scenario, strategy, 1, probe_interval=interval) for scenario in outages(ends)]
    returns = [delay for run in runs for delay in run.return_delays]
    return {
        "strategy": strategy,
        "probe_interval": interval,
        "failed_tries": mean(run.failed_tries for run in runs),
        "return_mean": mean(returns),
        "return_worst": max(returns),
        "probes": mean(run.probes for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ends", type=int, default=8)
    parser.add_argument("--intervals", default="5,10,15,30,60",
                        help="probe intervals in seconds, comma-separated")
    parser.add_argument("--strategies", default="breaker,original")
    args = parser.parse_args()
    intervals: list[float | None] = [None, *(float(v) for v in args.intervals.split(","))]
    rows = [
        measure(strategy, interval, args.ends)
        for strategy in args.strategies.split(",") for interval in intervals
    ]
    print(f"{SCENARIO}, outage from {START:.0f} s ending at {args.ends} times from "
          f"{FIRST_END:.0f} s: failed email tries per run, seconds from A's recovery to its "
          "first delivery")
    print(f"{'strategy':<10} {'probes every':>12} {'failed tries':>12} {'return mean':>11} "
          f"{'worst':>6} {'probes':>7}")
    for row in rows:
        every = "off" if row["probe_interval"] is None else f"{row['probe_interval']:.0f} s"
        print(f"{row['strategy']:<10} {every:>12} {row['failed_tries']:>12.1f} "
              f"{row['return_mean']:>10.1f}s {row['return_worst']:>5.0f}s {row['probes']:>7.0f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(
        {"date": datetime.now(UTC).isoformat(timespec="seconds"), "scenario": SCENARIO,
         "outage_ends": [FIRST_END + STEP * index for index in range(args.ends)],
         "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
