"""The worker's histograms: one observation per provider try, by provider and outcome, timed
as the try is stored; the dispatcher without metrics (the simulation's) observes nothing."""

from __future__ import annotations

import asyncio

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.metrics import DeliveryMetrics
from micromailer.domain.status import Outcome
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.original import OriginalStrategy
from tests.support.fakes import (
    FakeClock,
    ScriptedAdapter,
    accepted,
    http_error,
    make_message,
    recipient_refused,
)
from tests.support.metrics import labelled, registry_samples

REQUESTS = "micromailer_provider_request_seconds"


def dispatcher_with(
    adapters: list[ScriptedAdapter], clock: FakeClock, metrics: DeliveryMetrics
) -> Dispatcher:
    board = MemoryBoard(OriginalStrategy(), base_scores([a.name for a in adapters]),
                        clock=clock.seconds)
    return Dispatcher(adapters, board, clock=clock, metrics=metrics)


def by_labels(metrics: DeliveryMetrics, sample: str) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["provider"], dict(labels)["outcome"]): value
        for labels, value in labelled(registry_samples(metrics.registry), sample).items()
    }


def test_every_try_is_observed_under_its_provider_and_outcome() -> None:
    clock = FakeClock(tick=0.25)  # each try: started, then finished one reading later
    metrics = DeliveryMetrics()
    dispatcher = dispatcher_with(
        [ScriptedAdapter("a", http_error(503)), ScriptedAdapter("b", http_error(400)),
         ScriptedAdapter("c", accepted("c-1"))], clock, metrics,
    )

    report = dispatcher.attempt(make_message())

    assert [t.outcome for t in report.tries] == [Outcome.FAILED, Outcome.REJECTED, Outcome.SENT]
    counts = by_labels(metrics, f"{REQUESTS}_count")
    assert counts == {("a", "failed"): 1, ("b", "rejected"): 1, ("c", "sent"): 1}
    sums = by_labels(metrics, f"{REQUESTS}_sum")
    assert sums == {key: 0.25 for key in counts}  # each try's finished_at - started_at


def test_the_event_loop_path_observes_the_same_way() -> None:
    metrics = DeliveryMetrics()
    dispatcher = dispatcher_with([ScriptedAdapter("a", recipient_refused())], FakeClock(),
                                 metrics)

    asyncio.run(dispatcher.attempt_async(make_message()))
    dispatcher.close()

    assert by_labels(metrics, f"{REQUESTS}_count") == {("a", "recipient_rejected"): 1}


def test_a_delivery_time_below_zero_from_skewed_clocks_counts_as_zero() -> None:
    metrics = DeliveryMetrics()

    metrics.email_sent(-3.0)

    samples = registry_samples(metrics.registry)
    assert samples[("micromailer_email_delivery_seconds_count", ())] == 1
    assert samples[("micromailer_email_delivery_seconds_sum", ())] == 0
    assert samples[("micromailer_email_delivery_seconds_bucket", (("le", "0.05"),))] == 1


def test_two_workers_in_one_process_keep_separate_registries() -> None:
    first, second = DeliveryMetrics(), DeliveryMetrics()

    first.email_sent(1.0)

    assert registry_samples(second.registry)[("micromailer_email_delivery_seconds_count", ())] == 0
