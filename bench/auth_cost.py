"""``python -m bench.auth_cost``: what authentication and a rate limit cost ``POST /email``.

The distributed deployment (two API processes, PostgreSQL, RabbitMQ, Redis) twice, side by
side in alternating rounds as ``bench.perf`` measures: once with authentication off, once with
``MICROMAILER_REQUIRE_AUTH``, a key on every request, and a generous
``MICROMAILER_RATE_LIMIT`` counted in Redis. Throughput with wrk (32 connections), p50/p99 at
500 requests per second with hey. Writes ``bench/results/auth_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.keys import create_key

from bench.perf.rounds import measure
from bench.perf.stacks import DistributedStack, FakeProvider

RESULTS = Path(__file__).resolve().parent / "results" / "auth_cost.json"
#: Far above what two API processes answer here: every request is counted, none refused.
GENEROUS_LIMIT = "1000000/second"


class AuthenticatedStack(DistributedStack):
    """The distributed deployment asking for a key, with a rate limit on every key."""

    name = "auth-on"

    def __init__(self, root: Path, fake: FakeProvider) -> None:
        super().__init__(root, fake)
        self.env.update(MICROMAILER_REQUIRE_AUTH="true", MICROMAILER_RATE_LIMIT=GENEROUS_LIMIT)
        self.key = create_key(self.env, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"measuring auth-off and auth-on ({args.rounds} rounds) ...", flush=True)
        systems = measure({"auth-off": DistributedStack, "auth-on": AuthenticatedStack},
                          Path(tmp), seconds=args.seconds, emails=0, rounds=args.rounds)
    off, on = systems["auth-off"], systems["auth-on"]
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "rateLimit": GENEROUS_LIMIT},
        "systems": systems,
        "cost": {
            "throughputPercent": _percent(on["throughput"]["requests_per_second"],
                                          off["throughput"]["requests_per_second"], lower=True),
            "p50Percent": _percent(on["latencyAt500"]["p50_ms"], off["latencyAt500"]["p50_ms"]),
            "p99Percent": _percent(on["latencyAt500"]["p99_ms"], off["latencyAt500"]["p99_ms"]),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in systems.items():
        throughput, latency = figures["throughput"], figures["latencyAt500"]
        print(f"{name:<10} {throughput['requests_per_second']:>9.0f} "
              f"{latency['p50_ms']:>8.2f} {latency['p99_ms']:>8.2f} "
              f"{throughput['non_2xx'] + latency['non_202']:>8}")
    print("cost of authentication + rate limit: " + ", ".join(
        f"{name} {value:+.1f} %" for name, value in report["cost"].items()))


def _percent(with_auth: float, without: float, *, lower: bool = False) -> float:
    """How much worse ``with_auth`` is than ``without``, in percent (throughput: lower is
    worse; latency: higher is)."""
    change = (without - with_auth) if lower else (with_auth - without)
    return round(100 * change / without, 1)


if __name__ == "__main__":
    main()
