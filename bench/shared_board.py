"""What a SendGrid outage costs N workers before all traffic is on Mandrill: memory vs Redis board.

N workers (N = 1, 2, 4, 8), each a thread with its own :class:`Dispatcher` over the real
adapters (built by the registry, on its own HTTP client), send emails to the sandbox at a steady
total rate, round robin. After a healthy lead-in, SendGrid goes into full outage
(``PUT /_sandbox/sendgrid/faults {"failRate": 1, "status": 503}``) while the emails keep coming.
We count the SendGrid tries that failed: each one is an email that went to SendGrid before its
worker's ranking put Mandrill first. After one failure the original rule gives SendGrid
``50 * 0.9 = 45 < 49`` and it stays below Mandrill for 240 s, so every failure happens before
the flip, and the run ends with every worker's ranking checked.

- ``memory``: one memory board per worker; each worker must learn the outage by itself.
- ``redis``: one Redis board shared by every worker (each worker has its own ``RedisBoard``
  on the same keys, as separate processes would).

Redis is a private ``redis-server`` started for the run (``--redis-url`` to use another), so
nothing else touching a shared Redis can disturb the count. Prints a table and writes
``bench/results/shared_board.json``.

    .venv/bin/python -m bench.shared_board [--rate 50] [--workers 1,2,4,8] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from tests.support.redis_server import ThrowawayRedis

from micromailer.config import SANDBOX_API_KEY, Settings
from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.verdict import Delivered
from micromailer.domain.attempt import ProviderTry
from micromailer.domain.message import Address, Message
from micromailer.domain.status import Outcome
from micromailer.health.base import base_scores
from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.original import OriginalStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.providers.registry import build_adapters, make_http_client
from micromailer.sandbox.server import SandboxThread

RESULTS = Path(__file__).parent / "results" / "shared_board.json"
PROVIDERS = ["sendgrid", "mandrill"]
OUTAGE = {"failRate": 1, "status": 503}


@dataclass
class Worker:
    """One worker: its dispatcher, its board, and every provider try it made."""

    dispatcher: Dispatcher
    board: HealthBoard
    client: httpx.Client
    tries: list[ProviderTry] = field(default_factory=list)
    undelivered: int = 0

    def send(self, slots: list[tuple[int, float]], start: float) -> None:
        for number, at in slots:
            time.sleep(max(0.0, start + at - time.monotonic()))
            report = self.dispatcher.attempt(_message(number))
            self.tries.extend(report.tries)
            if not isinstance(report.verdict, Delivered):
                self.undelivered += 1


def _message(number: int) -> Message:
    return Message(
        email_id=str(uuid.uuid4()),
        to=(Address(f"user{number}@example.com"),),
        subject=f"bench {number}",
        html=f"<p>email {number}</p>",
        text=f"email {number}",
        sender=Address("bench@example.org", "bench"),
    )


def _settings(sandbox_url: str) -> Settings:
    """The real adapters, aimed at the sandbox whatever the environment says."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        SENDGRID_API_KEY=SANDBOX_API_KEY,
        MANDRILL_API_KEY=SANDBOX_API_KEY,
        sendgrid_base_url=sandbox_url,
        mandrill_base_url=sandbox_url,
        providers=",".join(PROVIDERS),
        redis_url=None,
    )


def _workers(
    settings: Settings, count: int, board: str, redis_url: str, prefix: str
) -> list[Worker]:
    workers = []
    for _ in range(count):
        client = make_http_client(settings)
        adapters = build_adapters(settings, client)
        shared: HealthBoard
        if board == "redis":
            shared = RedisBoard.from_url(
                redis_url, OriginalStrategy(), base_scores(PROVIDERS), prefix=prefix
            )
        else:
            shared = MemoryBoard(OriginalStrategy(), base_scores(PROVIDERS))
        workers.append(Worker(Dispatcher(adapters, shared), shared, client))
    return workers


def run_once(
    sandbox: SandboxThread,
    count: int,
    board: str,
    rate: float,
    lead: float,
    tail: float,
    redis_url: str,
) -> dict[str, Any]:
    """One outage: ``lead`` s healthy, then SendGrid down for ``tail`` s, at ``rate`` emails/s."""
    control = httpx.Client(base_url=sandbox.url, timeout=5)
    control.put("/_sandbox/sendgrid/faults", json={}).raise_for_status()
    prefix = f"micromailer-bench:{uuid.uuid4().hex}:health:"
    workers = _workers(_settings(sandbox.url), count, board, redis_url, prefix)
    for worker in workers:  # warm connections; a success at full health changes nothing
        worker.dispatcher.attempt(_message(-1))
        worker.tries.clear()
    total = int((lead + tail) * rate)
    slots: list[list[tuple[int, float]]] = [[] for _ in workers]
    for number in range(total):
        slots[number % count].append((number, number / rate))
    start = time.monotonic() + 0.05
    threads = [
        threading.Thread(target=worker.send, args=(slots[index], start))
        for index, worker in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start + lead - time.monotonic()))
    outage_at = datetime.now(UTC)
    control.put("/_sandbox/sendgrid/faults", json=OUTAGE).raise_for_status()
    for thread in threads:
        thread.join()
    control.put("/_sandbox/sendgrid/faults", json={}).raise_for_status()
    control.close()

    tries = [attempt for worker in workers for attempt in worker.tries]
    failed = sorted(
        (t for t in tries if t.provider == "sendgrid" and t.outcome == Outcome.FAILED),
        key=lambda t: t.started_at,
    )
    in_flight = sum(1 for t in failed if t.started_at < outage_at)
    flipped = all(worker.board.ranked()[0] == "mandrill" for worker in workers)
    last_ms = (failed[-1].finished_at - outage_at).total_seconds() * 1000 if failed else 0.0
    row = {
        "workers": count,
        "board": board,
        "emails": total,
        "sendgridFailures": len(failed),
        "startedBeforeOutage": in_flight,
        "lastFailureMs": round(last_ms, 1),
        "allOnMandrill": flipped,
        "undelivered": sum(worker.undelivered for worker in workers),
    }
    for worker in workers:
        worker.client.close()
        if isinstance(worker.board, RedisBoard):
            worker.board.close()
    if board == "redis":
        _delete_prefix(redis_url, prefix)
    return row


def _delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    counts = [run["sendgridFailures"] for run in runs]
    return {
        "workers": runs[0]["workers"],
        "board": runs[0]["board"],
        "runs": len(runs),
        "sendgridFailures": counts,
        "meanSendgridFailures": round(statistics.fmean(counts), 2),
        "maxSendgridFailures": max(counts),
        "startedBeforeOutage": sum(run["startedBeforeOutage"] for run in runs),
        "medianLastFailureMs": round(statistics.median(r["lastFailureMs"] for r in runs), 1),
        "allOnMandrill": all(run["allOnMandrill"] for run in runs),
        "undelivered": sum(run["undelivered"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="emails per second, all workers")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lead", type=float, default=0.5, help="healthy seconds before the outage")
    parser.add_argument("--tail", type=float, default=1.5, help="seconds of outage")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--redis-url", help="an existing Redis (default: a private redis-server for the run)"
    )
    args = parser.parse_args()

    rows = []
    with contextlib.ExitStack() as stack:
        redis_url = args.redis_url or stack.enter_context(ThrowawayRedis()).url
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()  # fail early
        sandbox = stack.enter_context(SandboxThread(seed=1))
        for count in (int(n) for n in args.workers.split(",")):
            for board in ("memory", "redis"):
                runs = [
                    run_once(sandbox, count, board, args.rate, args.lead, args.tail, redis_url)
                    for _ in range(args.repeat)
                ]
                rows.append(summarise(runs))

    print(
        f"{'workers':>7} {'board':<7} {'failed SendGrid tries per run':<32} {'mean':>5} "
        f"{'last failure ms':>15}"
    )
    for row in rows:
        counts = " ".join(str(n) for n in row["sendgridFailures"])
        print(
            f"{row['workers']:>7} {row['board']:<7} {counts:<32} "
            f"{row['meanSendgridFailures']:>5} {row['medianLastFailureMs']:>15}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "rate": args.rate,
                "leadSeconds": args.lead,
                "outageSeconds": args.tail,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
