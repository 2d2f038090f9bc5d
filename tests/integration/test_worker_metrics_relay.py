"""``micromailer run``'s ``GET /metrics`` with its worker's histograms: a real worker exporter
read at scrape time and its ``micromailer_*`` families emitted as the API's own; a worker that
does not answer leaves them out, said once in the log, and the API's figures still answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.delivery.metrics import DeliveryMetrics
from micromailer.domain.status import Outcome
from micromailer.queue.exporter import serve_worker_metrics, worker_registry
from micromailer.store.migrate import upgrade
from tests.support.metrics import labelled, parse_samples
from tests.support.processes import free_port

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def exporter() -> Iterator[tuple[DeliveryMetrics, str]]:
    """A worker's metrics, served as ``micromailer worker --metrics-port`` serves them."""
    metrics = DeliveryMetrics(worker_registry())
    port = free_port()
    server = serve_worker_metrics(metrics.registry, "127.0.0.1", port)
    yield metrics, f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    server.server_close()


def api_reading(tmp_path: Path, worker_url: str) -> TestClient:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, worker_metrics_url=worker_url,
    )
    upgrade(settings.store_url)
    return TestClient(create_app(settings))


def test_the_workers_histograms_appear_on_the_apis_metrics(
    tmp_path: Path, exporter: tuple[DeliveryMetrics, str],
) -> None:
    metrics, url = exporter
    metrics.email_sent(1.5)
    metrics.provider_answered("sendgrid", Outcome.SENT, 0.2)
    metrics.provider_answered("mandrill", Outcome.FAILED, 3.0)

    with api_reading(tmp_path, url) as client:
        text = client.get("/metrics").text
        openmetrics = client.get("/metrics", headers={"accept": OPENMETRICS}).text

    samples = parse_samples(text)
    assert samples[("micromailer_email_delivery_seconds_count", ())] == 1
    assert samples[("micromailer_email_delivery_seconds_sum", ())] == 1.5
    assert labelled(samples, "micromailer_provider_request_seconds_count") == {
        (("outcome", "sent"), ("provider", "sendgrid")): 1,
        (("outcome", "failed"), ("provider", "mandrill")): 1,
    }
    assert samples[("micromailer_queue_backlog", ())] == 0  # the API's own, beside them
    # The worker's process figures stay out: the API's are the ones named process_*.
    assert text.count("# TYPE process_resident_memory_bytes gauge") == 1
    # Histograms come back whole in OpenMetrics too, which a strict parser accepts.
    families = {family.name: family for family in openmetrics_families(openmetrics)}
    assert families["micromailer_email_delivery_seconds"].type == "histogram"


def test_a_worker_that_does_not_answer_leaves_its_metrics_out_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/metrics"

    with caplog.at_level(logging.WARNING), api_reading(tmp_path, closed) as client:
        first, second = client.get("/metrics"), client.get("/metrics")

    assert first.status_code == second.status_code == 200
    samples = parse_samples(second.text)
    assert ("micromailer_emails_total", (("status", "queued"),)) in samples
    assert not any(name.startswith("micromailer_email_delivery") for name, _ in samples)
    said = [r.getMessage() for r in caplog.records if "worker's metrics" in r.getMessage()]
    assert len(said) == 1, said
    assert closed in said[0]
