"""What counting one request against a rate limit costs the API, in process.

``RateLimiter.hit`` for one key, again and again, on the in-memory counters and on Redis: the
wall time per hit (Redis: mostly the round trip, during which the event loop serves others) and
the CPU time per hit (what it takes from the API process). One limit, then two (``;``). Writes
``bench/results/rate_limit_cost.json``.

    .venv/bin/python -m bench.rate_limit_cost [--hits 20000] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path

import redis

from micromailer.security.principal import Principal
from micromailer.security.rate_limit import RateLimiter
from micromailer.security.rate_policy import parse_rate_limit
from micromailer.security.rate_store import RateStore, memory_store, redis_store

RESULTS = Path(__file__).parent / "results" / "rate_limit_cost.json"
KEY = Principal(key_name="bench", project="bench", admin=False)
LIMITS = ("1000000/second", "1000000/second;100000000/hour")


async def _measure(store: RateStore, limit: str, hits: int) -> dict[str, float]:
    limiter = RateLimiter(parse_rate_limit(limit), store)
    try:
        for _ in range(200):  # connect, load the script
            await limiter.hit(KEY, "127.0.0.1")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(hits):
            verdict = await limiter.hit(KEY, "127.0.0.1")
            assert verdict is not None and verdict.allowed
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await limiter.close()
    return {"wall_us": round(wall / hits * 1e6, 1), "cpu_us": round(cpu / hits * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    prefix = f"micromailer-bench:{uuid.uuid4().hex}"
    rows = []
    for limit in LIMITS:
        rows.append({"storage": "memory", "limit": limit,
                     **asyncio.run(_measure(memory_store(), limit, args.hits))})
        store = redis_store(args.redis, timeout=0.25, key_prefix=prefix)
        rows.append({"storage": "redis", "limit": limit,
                     **asyncio.run(_measure(store, limit, args.hits))})
    client = redis.Redis.from_url(args.redis)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "hits": args.hits,
              "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'storage':<8} {'limit':<32} {'wall µs':>8} {'cpu µs':>8}")
    for row in rows:
        print(f"{row['storage']:<8} {row['limit']:<32} {row['wall_us']:>8} {row['cpu_us']:>8}")


if __name__ == "__main__":
    main()
