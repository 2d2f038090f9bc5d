"""``python -m bench.perf``: the baseline and micromailer side by side on this machine.

For each system: ``POST /email`` throughput (wrk, 20 s, 32 connections, API processes only),
p50/p99 latency at a fixed 500 requests per second (hey, 20 s), end-to-end delivered emails per
second for 10,000 emails (API and workers, the fake provider answering in 20 ms), and the peak
RSS of every process. Writes ``bench/results/latest.json`` and prints a table.

The machine's speed drifts by a tenth or more within seconds (the same loop takes 61 to 121 ms
from one second to the next on an idle machine), so the baseline and micromailer are measured
side by side in alternating rounds (``--rounds``, 3 by default), each round in the reverse order
of the last (baseline, micromailer, micromailer, baseline…): both APIs run at once and wrk,
then hey, turn from one to the other; for delivery each round deploys each afresh. Each figure
is the median of its rounds; the ratios come from those medians, and each round's own ratios
are kept beside them. The embedded mode, compared with nothing, is measured the same way alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.perf.report import print_table, ratios, round_ratios
from bench.perf.rounds import StackFactory, measure
from bench.perf.stacks import (
    BaselineStack,
    DistributedStack,
    EmbeddedStack,
)

RESULTS = Path(__file__).resolve().parents[1] / "results" / "latest.json"
#: The systems measured side by side; each of the others is measured on its own.
COMPARED = ("baseline", "micromailer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="baseline,micromailer,micromailer-embedded")
    args = parser.parse_args()
    factories: dict[str, StackFactory] = {
        "baseline": BaselineStack, "micromailer": DistributedStack,
        "micromailer-embedded": EmbeddedStack,
    }
    names = args.only.split(",")
    compared = [name for name in names if name in COMPARED]
    groups = [compared] if compared else []
    groups += [[name] for name in names if name not in COMPARED]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups:
            print(f"measuring {' and '.join(group)} ({args.rounds} rounds) ...", flush=True)
            results.update(measure({name: factories[name] for name in group},
                                   Path(tmp) / "-".join(group),
                                   seconds=args.seconds, emails=args.emails,
                                   rounds=args.rounds))
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {"seconds": args.seconds, "emails": args.emails, "connections": 32,
                     "fixedRate": 500, "providerLatencyMs": 20, "rounds": args.rounds},
        "systems": results,
        "ratios": ratios(results),
        "roundRatios": round_ratios(results),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


if __name__ == "__main__":
    main()
