"""The delivery service observes an email's time from acceptance to ``sent`` once the outcome
is stored, on a real SQLite store: only live emails that were sent, each once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.metrics import DeliveryMetrics
from micromailer.delivery.service import DeliveryService
from micromailer.domain.status import Status
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.original import OriginalStrategy
from micromailer.retry import DeliveryRetryPolicy
from tests.support.fakes import (
    FakeClock,
    ScriptedAdapter,
    Stores,
    accepted,
    migrated_stores,
    recipient_refused,
)
from tests.support.metrics import SampleKey, registry_samples

DELIVERY_COUNT: SampleKey = ("micromailer_email_delivery_seconds_count", ())
DELIVERY_SUM: SampleKey = ("micromailer_email_delivery_seconds_sum", ())


@dataclass
class Worker:
    stores: Stores
    service: DeliveryService
    metrics: DeliveryMetrics
    clock: FakeClock

    def samples(self) -> dict[SampleKey, float]:
        return registry_samples(self.metrics.registry)


def dispatcher(
    answer: ScriptedAdapter, clock: FakeClock, *, metrics: DeliveryMetrics | None = None,
    test_traffic: bool = False,
) -> Dispatcher:
    board = MemoryBoard(OriginalStrategy(), base_scores([answer.name]), clock=clock.seconds)
    return Dispatcher([answer], board, clock=clock, metrics=metrics, test_traffic=test_traffic)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    clock = FakeClock()
    stores = migrated_stores(tmp_path, clock)
    metrics = DeliveryMetrics()
    live = ScriptedAdapter("a", accepted("a-1"), recipient_refused())
    service = DeliveryService(
        store=stores.claims,
        dispatcher=dispatcher(live, clock, metrics=metrics),
        schedule=lambda email_id, delay: None,
        policy=DeliveryRetryPolicy(max_attempts=3, delay=10.0, delay_max=600.0),
        claim_timeout=60.0,
        test_dispatcher=dispatcher(ScriptedAdapter("a", accepted("fake-1")), clock,
                                   test_traffic=True),
        metrics=metrics,
        clock=clock,
    )
    yield Worker(stores, service, metrics, clock)
    service.close()
    stores.engine.dispose()


def test_a_sent_email_is_observed_once_with_its_time_since_acceptance(worker: Worker) -> None:
    email_id = worker.stores.add()  # accepted at the clock's now
    worker.clock.advance(42.0)

    assert worker.service.deliver(email_id) is Status.SENT
    assert worker.service.deliver(email_id) is None  # redelivered: a no-op, not observed again

    samples = worker.samples()
    assert samples[DELIVERY_COUNT] == 1
    assert samples[DELIVERY_SUM] == 42.0
    assert samples[("micromailer_email_delivery_seconds_bucket", (("le", "30.0"),))] == 0
    assert samples[("micromailer_email_delivery_seconds_bucket", (("le", "60.0"),))] == 1


def test_a_failed_email_is_not_a_delivery_but_its_try_is_a_request(worker: Worker) -> None:
    worker.service.deliver(worker.stores.add())  # the first answer: accepted
    refused = worker.stores.add()

    assert worker.service.deliver(refused) is Status.FAILED

    samples = worker.samples()
    assert samples[DELIVERY_COUNT] == 1
    requests = ("micromailer_provider_request_seconds_count",
                (("outcome", "recipient_rejected"), ("provider", "a")))
    assert samples[requests] == 1


def test_a_test_email_sent_to_the_fakes_is_not_observed(worker: Worker) -> None:
    email_id = worker.stores.add(test=True)

    assert worker.service.deliver(email_id) is Status.SENT

    samples = worker.samples()
    assert samples[DELIVERY_COUNT] == 0
    assert not any(name.startswith("micromailer_provider_request") and labels
                   for name, labels in samples)
