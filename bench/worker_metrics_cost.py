"""``python -m bench.worker_metrics_cost``: what the worker's histograms cost a delivery, and
what reading a worker's exporter costs ``micromailer run``'s scrape.

Times, on this machine, one observation of each histogram (the provider request's through the
cached child, beside prometheus-client's ``labels().observe()``), and one
``WorkerMetricsRelay.collect()`` against a real exporter on loopback. Writes
``bench/results/worker_metrics_cost.json``.
"""

from __future__ import annotations

import json
import socket
import statistics
import timeit
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram

from micromailer.api.worker_metrics import WorkerMetricsRelay
from micromailer.delivery.metrics import REQUEST_BUCKETS, DeliveryMetrics
from micromailer.domain.status import Outcome
from micromailer.queue.exporter import serve_worker_metrics, worker_registry

RESULTS = Path(__file__).resolve().parent / "results" / "worker_metrics_cost.json"
CALLS = 200_000
REPEATS = 5


def per_call_us(statement: object, calls: int = CALLS) -> float:
    """The best of :data:`REPEATS` runs, in microseconds per call."""
    runs = timeit.repeat(statement, number=calls, repeat=REPEATS)  # type: ignore[call-overload]
    return min(runs) / calls * 1e6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    metrics = DeliveryMetrics(worker_registry())
    providers = ["sendgrid", "mandrill"]
    outcomes = list(Outcome)
    for provider in providers:  # every child exists, as in a worker that has run a while
        for outcome in outcomes:
            metrics.provider_answered(provider, outcome, 0.1)
    plain = Histogram("plain_request_seconds", "the same histogram, looked up per call",
                      ["provider", "outcome"], buckets=REQUEST_BUCKETS,
                      registry=CollectorRegistry())
    figures = {
        "email_sent_us": per_call_us(lambda: metrics.email_sent(1.5)),
        "provider_answered_us": per_call_us(
            lambda: metrics.provider_answered("sendgrid", Outcome.SENT, 0.12)
        ),
        "labels_then_observe_us": per_call_us(
            lambda: plain.labels("sendgrid", "sent").observe(0.12)
        ),
    }
    port = free_port()
    server = serve_worker_metrics(metrics.registry, "127.0.0.1", port)
    try:
        relay = WorkerMetricsRelay(f"http://127.0.0.1:{port}/metrics")
        scrapes = [timeit.timeit(lambda: list(relay.collect()), number=1) for _ in range(50)]
    finally:
        server.shutdown()
        server.server_close()
    figures["relay_collect_ms_median"] = statistics.median(scrapes) * 1e3
    figures["relay_collect_ms_max"] = max(scrapes) * 1e3
    result = {"date": datetime.now(UTC).date().isoformat(), "calls": CALLS, **figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
