"""Measuring systems side by side in alternating rounds, and combining the rounds' figures."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.perf.measure import RssSampler, deliver, hey_latency, wrk_throughput
from bench.perf.stacks import FakeProvider, Stack

StackFactory = Callable[[Path, FakeProvider], Stack]


def order(names: list[str], number: int) -> list[str]:
    """Round ``number``'s order: each round the reverse of the last."""
    return names if number % 2 == 0 else names[::-1]


def measure(factories: dict[str, StackFactory], root: Path, *, seconds: int, emails: int,
            rounds: int) -> dict[str, dict[str, Any]]:
    """Every figure of each system, measured in alternating rounds; by system name. With
    ``emails`` 0, the APIs alone: no delivery."""
    names = list(factories)
    fake = FakeProvider(root).start()
    samplers = {name: RssSampler().start() for name in names}
    sections = ["throughput", "latencyAt500", *(["delivery"] if emails else [])]
    measured: dict[str, dict[str, list[Any]]] = {
        name: {section: [] for section in sections} for name in names
    }
    try:
        stacks: dict[str, Stack] = {}
        try:
            for name in names:
                stack = stacks[name] = factories[name](root / f"{name}-api", fake)
                stack.start_api()
                for api in stack.apis:
                    samplers[name].watch("api", api.pid)
                wrk_throughput(stack.url, seconds=3, key=stack.key)  # warm-up
            for number in range(rounds):
                for name in order(names, number):
                    measured[name]["throughput"].append(
                        wrk_throughput(stacks[name].url, seconds=seconds,
                                       key=stacks[name].key))
            for number in range(rounds):
                for name in order(names, number):
                    measured[name]["latencyAt500"].append(
                        hey_latency(stacks[name].url, rate=500, seconds=seconds,
                                    key=stacks[name].key))
        finally:
            for stack in stacks.values():
                stack.stop()
        for number in range(rounds if emails else 0):
            for name in order(names, number):
                stack = factories[name](root / f"{name}-e2e-{number}", fake)
                try:
                    stack.start_api()
                    stack.start_workers()
                    for process in [*stack.apis, *stack.workers] if number == 0 else []:
                        samplers[name].watch(  # one deployment's processes: they repeat
                            "api" if process in stack.apis else "worker", process.pid)
                    measured[name]["delivery"].append(deliver(stack.url, fake.url, emails))
                finally:
                    stack.stop()
    finally:
        processes = {name: sampler.stop() for name, sampler in samplers.items()}
        fake.process.stop()
    return {name: {**combine([{section: asdict(figures[number])
                                for section, figures in measured[name].items()}
                               for number in range(rounds)]),
                   "system": name, "processes": processes[name]}
            for name in names}


#: The figures combined over rounds: (section, field).
FIGURES = [("throughput", "requests_per_second"), ("latencyAt500", "p50_ms"),
           ("latencyAt500", "p99_ms"), ("delivery", "emails_per_second")]


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The first round's figures with each of ``FIGURES`` replaced by its median over the
    rounds; every round kept under ``rounds``."""
    combined = json.loads(json.dumps(rounds[0]))
    for section, name in FIGURES:
        if section not in combined:  # not measured this time
            continue
        combined[section][name] = round(
            statistics.median(each[section][name] for each in rounds), 2)
    combined["rounds"] = rounds
    return combined


__all__ = ["FIGURES", "StackFactory", "combine", "measure", "order"]
