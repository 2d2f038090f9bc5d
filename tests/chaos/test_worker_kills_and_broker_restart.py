"""Chaos 1: two APIs, three workers, SendGrid failing 30 %; workers SIGKILLed twice and
RabbitMQ restarted once during 2,000 emails. Every accepted email must end ``sent``."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from micromailer.store.engine import make_engine
from micromailer.store.stats import StatsStore
from tests.chaos.conftest import run
from tests.support.backends import Backends
from tests.support.cluster import Cluster
from tests.support.load import LoadResult, in_background, post_many

EMAILS = 2000


def _wait_progress(load: LoadResult, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while load.progress < at_least:
        assert time.monotonic() < deadline, f"load stalled at {load.progress} posts"
        time.sleep(0.05)


def _delivery_window(final: dict[str, dict[str, str]]) -> float:
    """Seconds from the first email's commit to the last one's ``sent``."""
    first = min(datetime.fromisoformat(body["createdAt"]) for body in final.values())
    last = max(datetime.fromisoformat(body["updatedAt"]) for body in final.values())
    return (last - first).total_seconds()


def _sending(store: StatsStore) -> int:
    return store.count_by_status().get("sending", 0)


def test_no_accepted_email_is_lost_through_worker_kills_and_a_broker_restart(
    tmp_path: Path, backends: Backends, record_property: pytest.RecordProperty
) -> None:
    cluster = Cluster(tmp_path, backends, apis=2, workers=3, concurrency=8).start()
    store = StatsStore(make_engine(backends.database_url))
    in_flight_at_kills = 0
    try:
        cluster.sandbox_client.set_faults("sendgrid", failRate=0.3, status=503)
        load = LoadResult()
        urls = [client.url for client in cluster.clients]
        loader = in_background(post_many, urls, EMAILS, threads=8, rate=250, result=load)

        _wait_progress(load, 300)
        in_flight_at_kills += _sending(store)
        cluster.restart_worker(0)

        _wait_progress(load, 800)
        run("rabbitmqctl stop_app")
        time.sleep(3)
        run("rabbitmqctl start_app")

        _wait_progress(load, 1300)
        in_flight_at_kills += _sending(store)
        cluster.restart_worker(1)

        loader.join(timeout=300)
        assert load.finished is not None, "the load did not finish"
        final = cluster.clients[0].wait_final(load.accepted, timeout=240)
        delivered = Counter(
            message["metadata"]["email_id"]
            for provider in ("sendgrid", "mandrill")
            for message in cluster.sandbox_client.captured(provider)
        )
    finally:
        cluster.stop()

    assert set(load.statuses) <= {202, 503}, f"unexpected answers: {load.bodies}"
    statuses = Counter(body["status"] for body in final.values())
    assert statuses == {"sent": len(load.accepted)}, statuses
    assert store.count_by_status() == {"sent": len(load.accepted)}, "an email stayed behind"

    assert set(load.accepted) <= set(delivered), "an email marked sent never reached a provider"
    duplicates = sum(count - 1 for count in delivered.values())
    assert duplicates <= in_flight_at_kills, (duplicates, in_flight_at_kills)

    rate = len(load.accepted) / _delivery_window(final)
    for name, value in [("accepted", len(load.accepted)), ("sent", statuses["sent"]),
                        ("lost", len(load.accepted) - statuses["sent"]),
                        ("duplicates", duplicates), ("in_flight_at_kills", in_flight_at_kills),
                        ("emails_per_second", round(rate, 1))]:
        record_property(name, value)
    print(f"\nchaos 1: accepted={len(load.accepted)} sent={statuses['sent']} lost=0 "
          f"duplicates={duplicates} in-flight-at-kills={in_flight_at_kills} "
          f"rate={rate:.1f}/s answers={dict(load.statuses)}")
