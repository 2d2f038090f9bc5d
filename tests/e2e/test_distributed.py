"""End to end in distributed mode: ``serve`` and ``worker`` processes on PostgreSQL, RabbitMQ
and Redis, and Flower watching the workers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.load import post_many
from tests.support.metrics import labelled, parse_samples
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with fresh_backends() as backends:
        running = Cluster(tmp_path, backends, apis=2, workers=2, concurrency=8).start()
        try:
            yield running
        finally:
            running.stop()


def test_emails_through_two_apis_and_two_workers_are_all_sent(cluster: Cluster) -> None:
    load = post_many([client.url for client in cluster.clients], 100, threads=4)

    final = cluster.clients[1].wait_final(load.accepted)

    assert load.statuses == {202: 100}
    assert {body["status"] for body in final.values()} == {"sent"}
    ready = httpx.get(f"{cluster.clients[0].url}/readyz").json()
    assert ready == {"status": "ready", "store": "ok", "broker": "ok"}
    # Either API answers a scrape with the whole cluster's figures, read from PostgreSQL.
    for client in cluster.clients:
        samples = parse_samples(httpx.get(f"{client.url}/metrics").raise_for_status().text)
        emails = labelled(samples, "micromailer_emails_total")
        assert emails[(("status", "queued"),)] == 100
        assert emails[(("status", "sent"),)] == 100
        tries = labelled(samples, "micromailer_provider_tries_total")
        assert sum(value for labels, value in tries.items() if ("outcome", "sent") in labels) == 100
        assert samples[("micromailer_health_board_up", ())] == 1


def test_an_outage_seen_by_one_worker_moves_the_shared_scores(cluster: Cluster) -> None:
    cluster.sandbox_client.set_faults("sendgrid", failRate=1.0, status=503)

    final = {}
    for n in range(10):  # one at a time: no try is in flight when another starts
        load = post_many([cluster.clients[n % 2].url], 1, threads=1, tag=f"outage{n}")
        final.update(cluster.clients[0].wait_final(load.accepted))

    assert {body["provider"] for body in final.values()} == {"mandrill"}
    failed_sendgrid_tries = sum(
        1 for body in final.values() for attempt in body["attempts"]
        if attempt["provider"] == "sendgrid"
    )
    # One shared board: the first failure moves every worker to Mandrill. With a board per
    # worker, each worker would pay its own failure.
    assert failed_sendgrid_tries == 1, failed_sendgrid_tries
    scores = {row["name"]: row["score"] for row in cluster.clients[1].providers()}
    assert scores["sendgrid"] < scores["mandrill"]


def test_flower_sees_the_workers(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "--broker", cluster.backends.broker_url, "flower",
         f"--port={port}", "--address=127.0.0.1", "--basic-auth=ops:secret-for-tests"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        names: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(names) < 2:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/workers?refresh=1",
                                     auth=("ops", "secret-for-tests"), timeout=10)
                if response.status_code == 200:
                    names = set(response.json())
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    finally:
        flower.terminate()
        flower.wait(timeout=20)
    assert {name.split("@")[0] for name in names} == {"worker0", "worker1"}, names


