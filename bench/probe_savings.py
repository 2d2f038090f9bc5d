"""What synthetic probes save, in the simulation: failed tries and the return to the preferred
provider after its outage.

The scenario ``original-outage`` (A, preferred, fails every try from t=200 s to t=800 s, then
recovers; B healthy; 10 emails a second for 30 minutes) through the real Dispatcher, with each
strategy, without probes and with probes of both providers every ``--intervals`` seconds
(``Engine(probe_interval=...)``: a probe's answer is drawn as a try's would be and taught to
the board as the worker's probes do, ``delivery/probes.py``). Prints, over ``--seeds`` seeds,
the failed email tries and the seconds from A's recovery to its first delivery again (mean and
worst), and writes ``bench/results/probe_savings.json``.

    .venv/bin/python -m bench.probe_savings [--seeds 5] [--intervals 5,15,30,60]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

from micromailer.simulate.engine import run_once
from micromailer.simulate.scenarios import get_scenario

RESULTS = Path(__file__).parent / "results" / "probe_savings.json"
SCENARIO = "original-outage"


def measure(strategy: str, interval: float | None, seeds: int) -> dict[str, object]:
    """Failed tries and return delays of ``strategy`` over ``seeds`` runs."""
    scenario = get_scenario(SCENARIO)
    runs = [run_once(scenario, strategy, seed, probe_interval=interval) for seed in range(seeds)]
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
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--intervals", default="5,15,30,60",
                        help="probe intervals in seconds, comma-separated")
    parser.add_argument("--strategies", default="breaker,original")
    args = parser.parse_args()
    intervals: list[float | None] = [None, *(float(v) for v in args.intervals.split(","))]
    rows = [
        measure(strategy, interval, args.seeds)
        for strategy in args.strategies.split(",") for interval in intervals
    ]
    print(f"{SCENARIO}, {args.seeds} seeds: failed email tries, seconds from A's recovery "
          "to its first delivery")
    print(f"{'strategy':<10} {'probes every':>12} {'failed tries':>12} {'return mean':>11} "
          f"{'worst':>6} {'probes':>7}")
    for row in rows:
        every = "off" if row["probe_interval"] is None else f"{row['probe_interval']:.0f} s"
        print(f"{row['strategy']:<10} {every:>12} {row['failed_tries']:>12.1f} "
              f"{row['return_mean']:>10.1f}s {row['return_worst']:>5.0f}s {row['probes']:>7.0f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(
        {"date": datetime.now(UTC).isoformat(timespec="seconds"), "scenario": SCENARIO,
         "seeds": args.seeds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
