"""The worker's histograms end to end: ``micromailer run`` shows them on its API's
``GET /metrics``, and a distributed worker serves them on ``MICROMAILER_WORKER_METRICS_PORT``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.load import post_many
from tests.support.metrics import SampleKey, labelled, parse_samples
from tests.support.processes import free_port
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

DELIVERIES: SampleKey = ("micromailer_email_delivery_seconds_count", ())
SENT_BY_SENDGRID = (("outcome", "sent"), ("provider", "sendgrid"))


def scrape_once_delivered(url: str, emails: int, timeout: float = 30) -> dict[SampleKey, float]:
    """``url``'s samples once they count ``emails`` deliveries: the worker observes each just
    after its outcome's commit, which a client may see first."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse_samples(httpx.get(url, timeout=10).raise_for_status().text)
        if samples.get(DELIVERIES, 0) >= emails or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def test_run_shows_its_workers_histograms_on_the_apis_metrics(service: EmbeddedService) -> None:
    response = service.post_json(to="ada@example.com", subject="Hi", content="Hello")
    assert response.status_code == 202, response.text
    final = service.wait_final([response.json()["emailId"]])
    assert {body["status"] for body in final.values()} == {"sent"}

    samples = scrape_once_delivered(f"{service.url}/metrics", 1)

    assert samples[DELIVERIES] == 1
    assert samples[("micromailer_email_delivery_seconds_sum", ())] > 0
    requests = labelled(samples, "micromailer_provider_request_seconds_count")
    assert requests[SENT_BY_SENDGRID] == 1
    assert samples[("micromailer_queue_backlog", ())] == 0


def test_a_distributed_worker_serves_its_histograms_on_its_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    with fresh_backends() as backends:
        cluster = Cluster(tmp_path, backends, apis=1, workers=1,
                          MICROMAILER_WORKER_METRICS_PORT=str(port)).start()
        try:
            load = post_many([cluster.clients[0].url], 3, threads=1)
            cluster.clients[0].wait_final(load.accepted)
            samples = scrape_once_delivered(f"http://127.0.0.1:{port}/metrics", 3)
        finally:
            cluster.stop()

    assert samples[DELIVERIES] == 3
    assert labelled(samples, "micromailer_provider_request_seconds_count")[SENT_BY_SENDGRID] == 3
    assert samples[("process_resident_memory_bytes", ())] > 0  # the worker's own process
