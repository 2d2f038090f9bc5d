"""How long the whole simulation suite takes: every scenario, every strategy, the default seeds.

Runs exactly what ``micromailer simulate`` runs by default (10 scenarios x 6 strategies x 5
seeds = 300 runs of 30 simulated minutes at 10 emails a second), spread over the cores, and
reports the wall time, the CPU time and the machine's load at the start (other work on a shared
machine slows it down). Writes ``bench/results/simulation.json`` with the suite's rows, so the
numbers in docs/selection.md can be checked against a fresh run.

    .venv/bin/python -m bench.simulation [--seeds 5] [--processes N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from micromailer.simulate.report import aggregate, suite_totals, to_table
from micromailer.simulate.suite import DEFAULT_SEEDS, jobs_for, run_suite, select

RESULTS = Path(__file__).parent / "results" / "simulation.json"


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    scenarios, strategies = select()
    jobs = jobs_for(scenarios, strategies, args.seeds)
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    walls, cpus = [], []
    results = []
    for _ in range(args.repeat):
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        results = run_suite(jobs, processes=args.processes)
        walls.append(time.perf_counter() - wall0)
        cpus.append(_cpu_seconds() - cpu0)
    rows = aggregate(results, {s.name: s.preferred.name for s in scenarios})
    print(to_table(rows))
    wall = statistics.median(walls)
    print(f"\n{len(jobs)} runs ({len(scenarios)} scenarios x {len(strategies)} strategies x "
          f"{args.seeds} seeds) on {args.processes or cores} of {cores} cores: "
          f"{wall:.1f} s wall (median of {len(walls)}), {statistics.median(cpus):.1f} s CPU; "
          f"load average {load:.1f} at the start")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "runs": len(jobs),
        "seeds": args.seeds,
        "cores": cores,
        "processes": args.processes or cores,
        "wallSeconds": [round(w, 2) for w in walls],
        "cpuSeconds": [round(c, 2) for c in cpus],
        "loadAverageAtStart": round(load, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "suite": [
            {"strategy": t.strategy, "failedTriesPerRun": round(t.failed_per_run, 1),
             "avoidablePerRun": None if t.avoidable_per_run is None
             else round(t.avoidable_per_run, 1),
             "healthyPreferredShare": None if t.healthy_preferred_share is None
             else round(t.healthy_preferred_share, 3)}
            for t in suite_totals(rows)
        ],
        "rows": [row.as_json() for row in rows],
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
