"""``python -m bench.perf``: the baseline and micromailer side by side on this machine.

For each system: ``POST /email`` throughput (wrk, 20 s, 32 connections, API processes only),
p50/p99 latency at a fixed 500 requests per second (hey, 20 s), end-to-end delivered emails per
second for 10,000 emails (API and workers, the fake provider answering in 20 ms), and the peak
RSS of every process. Writes ``bench/results/latest.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.perf.measure import RssSampler, deliver, hey_latency, wrk_throughput
from bench.perf.report import print_table, ratios
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--only", default="baseline,micromailer,micromailer-embedded")
    args = parser.parse_args()
    factories: dict[str, StackFactory] = {
        "baseline": BaselineStack, "micromailer": DistributedStack,
        "micromailer-embedded": EmbeddedStack,
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            print(f"measuring {name} ...", flush=True)
            results[name] = measure(factories[name], Path(tmp) / name,
                                    seconds=args.seconds, emails=args.emails)
            results[name]["system"] = name
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {"seconds": args.seconds, "emails": args.emails, "connections": 32,
                     "fixedRate": 500, "providerLatencyMs": 20},
        "systems": results,
        "ratios": ratios(results),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


if __name__ == "__main__":
    main()
