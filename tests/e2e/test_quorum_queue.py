"""Distributed mode on a quorum queue (``MICROMAILER_QUEUE_TYPE=quorum``): ``serve`` and
``worker`` processes on PostgreSQL, RabbitMQ and Redis deliver through it, each worker's
prefetch is set per consumer, and retries wait in RabbitMQ's delayed delivery."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from micromailer.queue.names import QUEUE_NAME
from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.load import post_many
from tests.support.servers import unavailable

pytestmark = pytest.mark.e2e

CONCURRENCY = 8


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is needed to read the queue's type and its consumers")
    with fresh_backends() as backends:
        running = Cluster(tmp_path, backends, apis=1, workers=2, concurrency=CONCURRENCY,
                          MICROMAILER_QUEUE_TYPE="quorum").start()
        try:
            yield running
        finally:
            running.stop()


def listed(cluster: Cluster, what: str, *columns: str) -> list[list[str]]:
    """``rabbitmqctl list_<what>`` in the cluster's vhost, one row of ``columns`` a line."""
    vhost = cluster.backends.broker_url.rsplit("/", 1)[1]
    completed = subprocess.run(
        ["rabbitmqctl", "-q", f"list_{what}", "-p", vhost, "--no-table-headers", *columns],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return [line.split() for line in completed.stdout.splitlines()]


def test_emails_go_through_a_quorum_queue_with_a_prefetch_per_consumer(cluster: Cluster) -> None:
    load = post_many([cluster.clients[0].url], 50, threads=4)

    final = cluster.clients[0].wait_final(load.accepted)

    assert load.statuses == {202: 50}
    assert {body["status"] for body in final.values()} == {"sent"}
    assert [QUEUE_NAME, "quorum"] in listed(cluster, "queues", "name", "type")
    consumers = [row for row in listed(cluster, "consumers", "queue_name", "prefetch_count")
                 if row[0] == QUEUE_NAME]
    # Quorum queues refuse a global prefetch: each worker's consumer carries its own.
    assert consumers == [[QUEUE_NAME, str(CONCURRENCY)]] * 2


def test_retries_wait_in_rabbitmqs_delayed_delivery(cluster: Cluster) -> None:
    for provider in ("sendgrid", "mandrill"):
        cluster.sandbox_client.set_faults(provider, failRate=1.0, status=503)
    load = post_many([cluster.clients[0].url], 3, threads=1, tag="retried")

    final = cluster.clients[0].wait_final(load.accepted)

    assert {body["status"] for body in final.values()} == {"failed"}
    assert {body["attemptCount"] for body in final.values()} == {3}
    exchanges = {row[0] for row in listed(cluster, "exchanges", "name") if row}
    assert "celery_delayed_delivery" in exchanges, "the workers set up no delayed delivery"
    logs = "".join(worker.log_path.read_text(errors="replace") for worker in cluster.workers)
    # A retry the broker refused would wait for the sweeper instead.
    assert "could not schedule the retry" not in logs
