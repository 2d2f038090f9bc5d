"""Failed SendGrid tries at the onset of an outage, against real workers on a shared Redis board.

For N worker processes (1, 2 and 4), distributed mode as deployed: ``micromailer serve`` and N
``micromailer worker`` on a fresh PostgreSQL database and RabbitMQ vhost, a private
``redis-server`` for the health board, and ``micromailer sandbox`` for the providers (SendGrid
preferred, Mandrill second, both answering after ``--latency-ms``). A steady load of
``--rate`` emails per second goes through ``POST /email``; after ``--lead`` seconds SendGrid is
switched into a full outage (``PUT /_sandbox/sendgrid/faults``, 503) for ``--outage`` seconds,
shorter than the breaker's first backoff, so no probe falls in the window.

From the attempts in the store: ``F``, when the first failed SendGrid try came back; the SendGrid
tries in flight then (started before ``F``, not finished before it); and every failed SendGrid
try. A worker that learns from each try as it ends fails no more than those in flight, plus one
for a try that starts while the first lesson is on its way to Redis. Prints a table and writes
``bench/results/outage_onset.json``.

    .venv/bin/python -m bench.outage_onset [--workers 1,2,4] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from tests.support.backends import fresh_database_and_vhost
from tests.support.processes import ManagedProcess, clean_env, free_port
from tests.support.redis_server import ThrowawayRedis

from micromailer.store.models import AttemptRow, EmailRow

RESULTS = Path(__file__).parent / "results" / "outage_onset.json"
PROVIDERS = "sendgrid,mandrill"
DRAIN_SECONDS = 90.0


@dataclass
class Onset:
    """One run's count."""

    workers: int
    emails: int
    sendgrid_tries: int
    failed: int
    in_flight: int
    #: Failed tries that started after the first failure had come back.
    late: int
    undelivered: int

    @property
    def within_bar(self) -> bool:
        return self.failed <= self.in_flight + 1


def run(workers: int, args: argparse.Namespace, root: Path) -> Onset:
    """One deployment with ``workers`` worker processes, loaded, then SendGrid down."""
    with ExitStack() as stack:
        database_url, broker_url = stack.enter_context(fresh_database_and_vhost())
        board = stack.enter_context(ThrowawayRedis())
        sandbox_port, api_port = free_port(), free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = clean_env(
            MICROMAILER_DATABASE_URL=database_url,
            MICROMAILER_BROKER_URL=broker_url,
            MICROMAILER_REDIS_URL=board.url,
            MICROMAILER_DATA_DIR=str(root / "var"),
            MICROMAILER_PROVIDERS=PROVIDERS,
            SENDGRID_API_KEY="bench-key",
            MANDRILL_API_KEY="bench-key",
            MICROMAILER_SENDGRID_BASE_URL=sandbox_url,
            MICROMAILER_MANDRILL_BASE_URL=sandbox_url,
        )
        processes: list[ManagedProcess] = []
        stack.callback(lambda: [process.stop() for process in reversed(processes)])
        sandbox = ManagedProcess(
            ["sandbox", "--port", str(sandbox_port), "--latency-ms", str(args.latency_ms)],
            env, root / f"sandbox-{workers}.log",
        )
        processes.append(sandbox.start())
        sandbox.wait_http(f"{sandbox_url}/_sandbox/sendgrid/stats")
        api = ManagedProcess(["serve", "--port", str(api_port)], env, root / f"api-{workers}.log")
        processes.append(api.start())
        api.wait_http(f"http://127.0.0.1:{api_port}/readyz")
        started = [
            ManagedProcess(["worker", "-n", f"onset{n}@%h"], env,
                           root / f"worker-{workers}-{n}.log")
            for n in range(workers)
        ]
        for worker in started:
            processes.append(worker.start())
        for worker in started:
            worker.wait_log(" ready.")
        emails = asyncio.run(
            _load(f"http://127.0.0.1:{api_port}", sandbox_url, args.rate, args.lead, args.outage,
                  args.latency_ms)
        )
        return _count(database_url, workers, emails)


async def _load(api_url: str, sandbox_url: str, rate: float, lead: float, outage: float,
                latency_ms: int) -> int:
    """POST emails at ``rate`` for ``lead + outage`` seconds; SendGrid goes down after ``lead``.
    Returns how many emails were accepted."""
    total = int(rate * (lead + outage))
    switch_at = int(rate * lead)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=30) as client:

        async def post(number: int) -> bool:
            body = {"to": f"onset-{number}@example.com", "subject": f"onset {number}",
                    "content": "Hello."}
            response = await client.post("/email", json=body)
            return response.status_code == 202

        start = time.monotonic()
        posts: list[asyncio.Task[bool]] = []
        for number in range(total):
            await asyncio.sleep(max(0.0, start + number / rate - time.monotonic()))
            if number == switch_at:
                faults = {"failRate": 1, "status": 503, "latencyMs": latency_ms}
                response = await client.put(f"{sandbox_url}/_sandbox/sendgrid/faults",
                                            json=faults)
                response.raise_for_status()
            posts.append(asyncio.create_task(post(number)))
        return sum(await asyncio.gather(*posts))


def _count(database_url: str, workers: int, emails: int) -> Onset:
    """Wait until every email is final, then count SendGrid's tries from the store."""
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                open_emails = connection.scalar(
                    select(func.count()).select_from(EmailRow)
                    .where(EmailRow.status.in_(["queued", "sending"]))
                )
                connection.rollback()
                if not open_emails:
                    break
                time.sleep(0.5)
            undelivered = connection.scalar(
                select(func.count()).select_from(EmailRow).where(EmailRow.status != "sent")
            ) or 0
            tries = connection.execute(
                select(AttemptRow.started_at, AttemptRow.finished_at, AttemptRow.outcome)
                .where(AttemptRow.provider == "sendgrid")
            ).all()
    finally:
        engine.dispose()
    failed = [(started, finished) for started, finished, outcome in tries if outcome != "sent"]
    if not failed:
        return Onset(workers, emails, len(tries), 0, 0, 0, undelivered)
    first = min(finished for _, finished in failed)
    in_flight = sum(1 for started, finished, _ in tries if started < first <= finished)
    late = sum(1 for started, _ in failed if started >= first)
    return Onset(workers, emails, len(tries), len(failed), in_flight, late, undelivered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--rate", type=float, default=200.0, help="emails per second")
    parser.add_argument("--lead", type=float, default=6.0, help="healthy seconds before the outage")
    parser.add_argument("--outage", type=float, default=6.0, help="seconds of load in the outage")
    parser.add_argument("--latency-ms", type=int, default=100,
                        help="every fake provider's answer time")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows: list[Onset] = []
    with tempfile.TemporaryDirectory(prefix="micromailer-onset-") as scratch:
        for workers in counts:
            rows.append(run(workers, args, Path(scratch)))
    print(f"{'workers':>7} {'emails':>6} {'SG tries':>8} {'failed':>6} {'in flight':>9} "
          f"{'late':>4} {'undelivered':>11}  bar: failed <= in flight + 1")
    for row in rows:
        verdict = "met" if row.within_bar else "MISSED"
        print(f"{row.workers:>7} {row.emails:>6} {row.sendgrid_tries:>8} {row.failed:>6} "
              f"{row.in_flight:>9} {row.late:>4} {row.undelivered:>11}  {verdict}")
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "settings": {"rate": args.rate, "lead": args.lead, "outage": args.outage,
                     "latencyMs": args.latency_ms},
        "rows": [{**asdict(row), "withinBar": row.within_bar} for row in rows],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
