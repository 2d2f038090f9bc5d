"""``python -m bench.perf``: the baseline and micromailer side by side on this machine.

For each system: ``POST /email`` throughput (wrk, 20 s, 32 connections, API processes only),
p50/p99 latency at a fixed 500 requests per second (hey, 20 s), end-to-end delivered emails per
second for 10,000 emails (API and workers, the fake provider answering in 20 ms), and the peak
RSS of every process. Writes ``bench/results/latest.json`` and prints a table.

The machine's speed drifts by a tenth or more within minutes, so the baseline and micromailer
are measured in alternating rounds (``--rounds``, 2 by default), the order reversed each round
(baseline, micromailer, micromailer, baseline): a drift over the run weighs on both alike.
Each figure is the median of its rounds; the ratios are taken from those medians, and each
round's own ratios are kept beside them. The embedded mode, compared with nothing, runs once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.perf.measure import RssSampler, deliver, hey_latency, wrk_throughput
from bench.perf.report import print_table, ratios, round_ratios
from bench.perf.stacks import (
    BaselineStack,
    DistributedStack,
    EmbeddedStack,
    FakeProvider,
    Stack,
)

RESULTS = Path(__file__).resolve().parents[1] / "results" / "latest.json"
StackFactory = Callable[[Path, FakeProvider], Stack]


def measure(factory: StackFactory, root: Path, *, seconds: int, emails: int) -> dict[str, Any]:
    fake = FakeProvider(root).start()
    sampler = RssSampler().start()
    try:
        stack = factory(root / "api", fake)
        try:
            stack.start_api()
            for api in stack.apis:
                sampler.watch("api", api.pid)
            wrk_throughput(stack.url, seconds=3)  # warm-up
            throughput = wrk_throughput(stack.url, seconds=seconds)
            latency = hey_latency(stack.url, rate=500, seconds=seconds)
        finally:
            stack.stop()
        stack = factory(root / "e2e", fake)
        try:
            stack.start_api()
            stack.start_workers()
            for process in [*stack.apis, *stack.workers]:
                sampler.watch("api" if process in stack.apis else "worker", process.pid)
            delivery = deliver(stack.url, fake.url, emails)
        finally:
            stack.stop()
    finally:
        processes = sampler.stop()
        fake.process.stop()
    return {
        "system": factory.__name__ if hasattr(factory, "__name__") else str(factory),
        "throughput": asdict(throughput),
        "latencyAt500": asdict(latency),
        "delivery": asdict(delivery),
        "processes": processes,
    }


#: The figures combined over rounds: (section, field).
FIGURES = [("throughput", "requests_per_second"), ("latencyAt500", "p50_ms"),
           ("latencyAt500", "p99_ms"), ("delivery", "emails_per_second")]
#: The systems measured in alternating rounds; the others run once.
COMPARED = ("baseline", "micromailer")


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The first round's results with each of ``FIGURES`` replaced by its median over the
    rounds; every round kept under ``rounds``."""
    combined = json.loads(json.dumps(rounds[0]))
    for section, name in FIGURES:
        combined[section][name] = round(
            statistics.median(each[section][name] for each in rounds), 2)
    combined["rounds"] = [{section: each[section] for section, _ in FIGURES} for each in rounds]
    return combined


def schedule(names: list[str], rounds: int) -> list[str]:
    """The order of the measurements: the compared systems in rounds, each round in the
    reverse order of the last, then the others once."""
    compared = [name for name in names if name in COMPARED]
    order: list[str] = []
    for number in range(rounds):
        order += compared if number % 2 == 0 else compared[::-1]
    return order + [name for name in names if name not in COMPARED]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="baseline,micromailer,micromailer-embedded")
    args = parser.parse_args()
    factories: dict[str, StackFactory] = {
        "baseline": BaselineStack, "micromailer": DistributedStack,
        "micromailer-embedded": EmbeddedStack,
    }
    names = args.only.split(",")
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for step, name in enumerate(schedule(names, args.rounds)):
            print(f"measuring {name} (round {len(measured[name]) + 1}) ...", flush=True)
            result = measure(factories[name], Path(tmp) / f"{step}-{name}",
                             seconds=args.seconds, emails=args.emails)
            measured[name].append({**result, "system": name})
    results = {name: combine(rounds) for name, rounds in measured.items()}
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {"seconds": args.seconds, "emails": args.emails, "connections": 32,
                     "fixedRate": 500, "providerLatencyMs": 20, "rounds": args.rounds},
        "systems": results,
        "ratios": ratios(results),
        "roundRatios": round_ratios(measured),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


if __name__ == "__main__":
    main()
