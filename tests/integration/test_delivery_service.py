"""The delivery service end to end below Celery: real SQLite store, real dispatcher and board.

Only the providers (scripted adapters over ``httpx.MockTransport``) and the Celery publish
(a recording ``schedule`` callable) are stand-ins; time is a hand-moved clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy.orm import Session

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.service import DeliveryService
from micromailer.domain.attempt import EmailView
from micromailer.domain.status import Status
from micromailer.health.base import Strategy, base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.original import OriginalStrategy
from micromailer.health.snapshots import SnapshotPublisher
from micromailer.retry import DeliveryRetryPolicy
from micromailer.store.claims import STALE_OUTCOME_NOTE
from micromailer.store.models import EmailRow
from tests.support.fakes import (
    FakeClock,
    ScriptedAdapter,
    Stores,
    accepted,
    calls,
    http_error,
    make_new_email,
    migrated_stores,
    network_down,
    recipient_refused,
)

CLAIM_TIMEOUT = 60.0
WAIT_SECONDS = 10.0
POLICY = DeliveryRetryPolicy(max_attempts=3, delay=10.0, delay_max=600.0)


@dataclass
class RecordingSchedule:
    """Stands in for the Celery publish: records ``(email_id, delay)``; may fail like a broker."""

    calls: list[tuple[str, float]] = field(default_factory=list)
    error: Exception | None = None

    def __call__(self, email_id: str, delay: float) -> None:
        self.calls.append((email_id, delay))
        if self.error is not None:
            raise self.error


@dataclass
class Harness:
    store: Stores
    board: MemoryBoard
    service: DeliveryService
    schedule: RecordingSchedule
    adapters: list[ScriptedAdapter]
    clock: FakeClock
    snapshots: SnapshotPublisher | None = None

    def queue_email(self) -> str:
        new = make_new_email()
        self.store.emails.add_email(new)
        return new.email_id

    def view(self, email_id: str) -> EmailView:
        view = self.store.emails.get_email(email_id)
        assert view is not None
        return view

    def row(self, email_id: str) -> EmailRow:
        with Session(self.store.engine) as session:
            found = session.get(EmailRow, email_id)
            assert found is not None
            return found


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


class Build(Protocol):
    def __call__(
        self,
        *adapters: ScriptedAdapter,
        schedule: RecordingSchedule | None = None,
        policy: DeliveryRetryPolicy = POLICY,
        snapshots: bool = False,
        strategy: Strategy | None = None,
    ) -> Harness: ...


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def harnesses() -> Iterator[list[Harness]]:
    built: list[Harness] = []
    yield built
    for harness in built:
        harness.service.close()
        if harness.snapshots is not None:
            harness.snapshots.close()
        harness.store.engine.dispose()


@pytest.fixture
def build(tmp_path: Path, clock: FakeClock, harnesses: list[Harness]) -> Build:
    """``build(*adapters, schedule=..., policy=...)`` → a :class:`Harness` on a fresh store."""

    def make(
        *adapters: ScriptedAdapter,
        schedule: RecordingSchedule | None = None,
        policy: DeliveryRetryPolicy = POLICY,
        snapshots: bool = False,
        strategy: Strategy | None = None,
    ) -> Harness:
        store = migrated_stores(tmp_path, clock)
        board = MemoryBoard(
            strategy or OriginalStrategy(), base_scores([a.name for a in adapters]),
            clock=clock.seconds,
        )
        recording = schedule or RecordingSchedule()
        publisher = SnapshotPublisher(board, store.snapshots.save_health) if snapshots else None
        service = DeliveryService(
            store=store.claims,
            dispatcher=Dispatcher(list(adapters), board, clock=clock,
                                  on_learn=publisher.notify if publisher else None),
            schedule=recording,
            policy=policy,
            claim_timeout=CLAIM_TIMEOUT,
        )
        harness = Harness(store, board, service, recording, list(adapters), clock, publisher)
        harnesses.append(harness)
        return harness

    return make


# -- sent ---------------------------------------------------------------------------------


def test_a_sent_email_stores_the_provider_its_message_id_and_every_try(build: Build) -> None:
    h = build(ScriptedAdapter("a", http_error(503)), ScriptedAdapter("b", accepted("b-77")))
    email_id = h.queue_email()

    status = h.service.deliver(email_id)

    assert status is Status.SENT
    view = h.view(email_id)
    assert (view.status, view.provider, view.provider_message_id, view.error) == (
        Status.SENT,
        "b",
        "b-77",
        None,
    )
    assert view.attempt_count == 1
    assert [(a.attempt_number, a.provider, a.outcome, a.status_code) for a in view.attempts] == [
        (1, "a", "failed", 503),
        (1, "b", "sent", None),
    ]
    assert h.schedule.calls == []
    assert h.row(email_id).claimed_until is None


# -- transient failures -------------------------------------------------------------------


def test_a_transient_failure_requeues_records_the_tries_and_schedules_one_retry(
    build: Build,
) -> None:
    h = build(ScriptedAdapter("a", http_error(503)), ScriptedAdapter("b", network_down()))
    email_id = h.queue_email()

    status = h.service.deliver(email_id)

    assert status is Status.QUEUED
    view = h.view(email_id)
    assert view.status is Status.QUEUED
    assert view.attempt_count == 1
    assert [(a.attempt_number, a.provider, a.outcome) for a in view.attempts] == [
        (1, "a", "failed"),
        (1, "b", "failed"),
    ]
    assert view.error is not None
    assert "a: HTTP 503" in view.error and "b: network error" in view.error
    assert len(h.schedule.calls) == 1
    scheduled_id, delay = h.schedule.calls[0]
    assert scheduled_id == email_id
    assert 0.8 * POLICY.delay <= delay <= 1.2 * POLICY.delay
    row = h.row(email_id)
    assert row.due_at == h.clock.now + timedelta(seconds=delay)
    assert row.claimed_until is None


def test_a_retry_waits_at_least_what_a_rate_limited_provider_asked(build: Build) -> None:
    h = build(ScriptedAdapter("a", http_error(429, **{"Retry-After": "120"})))
    email_id = h.queue_email()

    h.service.deliver(email_id)

    assert h.schedule.calls == [(email_id, 120.0)]


def test_the_third_failed_attempt_gives_up_with_every_reason(build: Build) -> None:
    a = ScriptedAdapter("a", http_error(503), http_error(500), http_error(504))
    b = ScriptedAdapter("b", http_error(429), network_down())
    h = build(a, b)
    email_id = h.queue_email()

    statuses = []
    for _ in range(3):
        statuses.append(h.service.deliver(email_id))
        if h.schedule.calls:
            h.clock.advance(h.schedule.calls[-1][1])  # the scheduled retry comes when due

    assert statuses == [Status.QUEUED, Status.QUEUED, Status.FAILED]
    assert [scheduled for scheduled, _ in h.schedule.calls] == [email_id, email_id]
    assert calls(h.adapters) == {"a": 3, "b": 3}
    view = h.view(email_id)
    assert view.status is Status.FAILED
    assert view.attempt_count == 3
    assert view.error is not None
    assert view.error.startswith("gave up after 3 attempts: attempt 1: ")
    # The error names every attempt's reasons, oldest first, as the attempts do.
    reasons = ["a: HTTP 503", "b: HTTP 429", "a: HTTP 500", "a: HTTP 504"]
    positions = [view.error.index(reason) for reason in reasons]
    assert positions == sorted(positions), view.error
    assert view.error.count("b: network error") == 2
    assert "attempt 2: " in view.error and "attempt 3: " in view.error
    assert [(a.attempt_number, a.provider, a.status_code) for a in view.attempts] == [
        (1, "a", 503),
        (1, "b", 429),
        (2, "a", 500),
        (2, "b", None),
        (3, "a", 504),
        (3, "b", None),
    ]
    assert all(attempt.error for attempt in view.attempts)


def test_a_failed_email_is_not_delivered_again(build: Build) -> None:
    h = build(ScriptedAdapter("a", http_error(503)), policy=DeliveryRetryPolicy(max_attempts=1))
    email_id = h.queue_email()
    assert h.service.deliver(email_id) is Status.FAILED

    assert h.service.deliver(email_id) is None
    assert calls(h.adapters) == {"a": 1}


# -- final at once ------------------------------------------------------------------------


def test_a_refused_recipient_fails_after_one_attempt_without_a_retry(build: Build) -> None:
    h = build(ScriptedAdapter("a", recipient_refused()), ScriptedAdapter("b", accepted()))
    email_id = h.queue_email()

    status = h.service.deliver(email_id)

    assert status is Status.FAILED
    view = h.view(email_id)
    assert view.attempt_count == 1
    assert view.error == "a: HTTP 200: recipient hard-bounce"
    assert [(a.provider, a.outcome) for a in view.attempts] == [("a", "recipient_rejected")]
    assert calls(h.adapters) == {"a": 1, "b": 0}
    assert h.schedule.calls == []


def test_a_request_every_provider_rejects_fails_after_one_attempt(build: Build) -> None:
    h = build(ScriptedAdapter("a", http_error(400)), ScriptedAdapter("b", http_error(422)))
    email_id = h.queue_email()

    assert h.service.deliver(email_id) is Status.FAILED
    view = h.view(email_id)
    assert view.attempt_count == 1
    assert view.error is not None and view.error.startswith("every provider rejected")
    assert h.schedule.calls == []


# -- no-ops -------------------------------------------------------------------------------


def test_delivering_a_sent_email_again_is_a_no_op(build: Build) -> None:
    h = build(ScriptedAdapter("a", accepted("a-1")))
    email_id = h.queue_email()
    assert h.service.deliver(email_id) is Status.SENT
    h.clock.advance(CLAIM_TIMEOUT * 10)

    again = h.service.deliver(email_id)

    assert again is None
    assert calls(h.adapters) == {"a": 1}
    view = h.view(email_id)
    assert (view.status, view.attempt_count, len(view.attempts)) == (Status.SENT, 1, 1)


def test_an_email_another_worker_holds_is_left_alone(build: Build) -> None:
    h = build(ScriptedAdapter("a", accepted()))
    email_id = h.queue_email()
    assert h.store.claims.claim(email_id, CLAIM_TIMEOUT) is not None  # the other worker

    assert h.service.deliver(email_id) is None
    assert calls(h.adapters) == {"a": 0}


def test_an_unknown_email_is_a_no_op(build: Build) -> None:
    h = build(ScriptedAdapter("a", accepted()))

    assert h.service.deliver("00000000-0000-0000-0000-000000000000") is None
    assert calls(h.adapters) == {"a": 0}


def test_an_early_redelivery_of_an_email_waiting_out_its_backoff_is_a_no_op(
    build: Build,
) -> None:
    h = build(ScriptedAdapter("a", http_error(503), accepted("a-2")))
    email_id = h.queue_email()
    assert h.service.deliver(email_id) is Status.QUEUED
    [(_, delay)] = h.schedule.calls

    h.clock.advance(delay / 2)
    early = h.service.deliver(email_id)  # e.g. the broker redelivers the first message

    assert early is None
    assert calls(h.adapters) == {"a": 1}
    assert (h.view(email_id).status, h.view(email_id).attempt_count) == (Status.QUEUED, 1)
    h.clock.advance(delay)
    assert h.service.deliver(email_id) is Status.SENT, "the scheduled retry still sends it"
    assert h.view(email_id).attempt_count == 2


def test_a_redelivery_waits_for_what_a_rate_limited_provider_asked(build: Build) -> None:
    h = build(ScriptedAdapter("a", http_error(429, **{"Retry-After": "120"}), accepted()))
    email_id = h.queue_email()
    h.service.deliver(email_id)

    h.clock.advance(119)
    assert h.service.deliver(email_id) is None
    h.clock.advance(1)
    assert h.service.deliver(email_id) is Status.SENT
    assert calls(h.adapters) == {"a": 2}


# -- a worker whose attempt outlived its lease ----------------------------------------------


@pytest.mark.parametrize("late", ["sent", "retry", "failed"])
def test_an_attempt_that_outlived_its_lease_does_not_undo_the_newer_one(
    build: Build, clock: FakeClock, late: str
) -> None:
    """While the first worker waits for its provider, its lease runs out and another worker
    claims and sends the email; the first worker's answer then changes nothing."""
    email_id = ""
    newer: list[Harness] = []

    def lease_runs_out_and_another_worker_sends() -> None:
        clock.advance(CLAIM_TIMEOUT + 1)
        assert newer[0].service.deliver(email_id) is Status.SENT

    answer = {"sent": accepted("a-late"), "retry": http_error(503),
              "failed": recipient_refused()}[late]
    h = build(ScriptedAdapter("a", answer, while_sending=lease_runs_out_and_another_worker_sends))
    newer.append(build(ScriptedAdapter("b", accepted("b-1"))))
    email_id = h.queue_email()

    assert h.service.deliver(email_id) is None

    view = h.view(email_id)
    assert (view.status, view.provider, view.provider_message_id, view.error) == (
        Status.SENT, "b", "b-1", None
    )
    assert view.attempt_count == 2
    assert h.schedule.calls == [], "no retry is scheduled for an outcome that was not applied"
    by_attempt = {attempt.attempt_number: attempt for attempt in view.attempts}
    assert (by_attempt[1].provider, by_attempt[2].provider) == ("a", "b")
    assert STALE_OUTCOME_NOTE in (by_attempt[1].error or "")
    assert by_attempt[2].error is None


# -- a broker that will not take the retry ------------------------------------------------


def test_a_failing_schedule_does_not_lose_the_email(build: Build) -> None:
    broker_down = RecordingSchedule(error=ConnectionError("broker down"))
    h = build(ScriptedAdapter("a", http_error(503), accepted("a-2")), schedule=broker_down)
    email_id = h.queue_email()

    status = h.service.deliver(email_id)

    assert status is Status.QUEUED
    assert len(broker_down.calls) == 1
    view = h.view(email_id)
    assert (view.status, view.attempt_count, len(view.attempts)) == (Status.QUEUED, 1, 1)
    # Once overdue, the sweeper finds it and a later delivery sends it.
    _, delay = broker_down.calls[0]
    h.clock.advance(delay + 61)
    assert h.store.sweeps.sweep(sweep_after=60) == [email_id]
    assert h.service.deliver(email_id) is Status.SENT
    assert h.view(email_id).attempt_count == 2


# -- what the board learns ----------------------------------------------------------------


def test_health_learned_in_one_delivery_steers_the_next(build: Build) -> None:
    journal: list[str] = []
    a = ScriptedAdapter("a", http_error(503), accepted("a-2"), journal=journal)
    b = ScriptedAdapter("b", accepted("b-1"), journal=journal)
    h = build(a, b)

    h.service.deliver(h.queue_email())
    second = h.queue_email()
    h.service.deliver(second)

    assert journal == ["a", "b", "b"]
    assert h.view(second).provider == "b"


def test_each_delivery_publishes_changed_health_to_the_store(build: Build) -> None:
    h = build(
        ScriptedAdapter("a", http_error(503)), ScriptedAdapter("b", accepted()), snapshots=True
    )

    h.service.deliver(h.queue_email())
    assert h.snapshots is not None
    h.snapshots.close()  # waits for the publisher's thread

    saved = {state.name: state for state in h.store.snapshots.load_health()}
    assert saved["a"].health == pytest.approx(0.9)
    assert saved["a"].last_error == h.clock.seconds()
    assert saved["b"].health == pytest.approx(1.0)


def test_the_published_health_keeps_the_hold_a_429_asked_for(build: Build) -> None:
    """A breaker board holds a provider that answered 429 with Retry-After; the snapshot the
    API reads must hold it too, or the live scores show it healthy."""
    h = build(
        ScriptedAdapter("a", http_error(429, **{"Retry-After": "30"})),
        ScriptedAdapter("b", accepted()),
        snapshots=True, strategy=BreakerStrategy(),
    )

    h.service.deliver(h.queue_email())
    assert h.snapshots is not None
    h.snapshots.close()

    saved = {state.name: state for state in h.store.snapshots.load_health()}
    assert saved["a"].retry_at == pytest.approx(h.clock.seconds() + 30.0)


def test_an_email_that_starts_after_a_failure_avoids_the_failing_provider(
    build: Build,
) -> None:
    """The board learns from a try as it ends, not when the attempt is recorded: while the
    first email, refused by ``a``, still waits for ``b``, the next email goes to ``b`` first."""
    b_answers = threading.Event()
    journal: list[str] = []
    a = ScriptedAdapter("a", http_error(503), accepted("a-2"), journal=journal)
    b = ScriptedAdapter("b", accepted("b-1"), journal=journal, gate=b_answers)
    h = build(a, b)
    first, second = h.queue_email(), h.queue_email()

    pending = h.service.submit(first)
    wait_until(lambda: journal == ["a", "b"])
    h.service.submit(second)
    wait_until(lambda: len(journal) == 3)
    b_answers.set()
    pending.result(timeout=10)

    assert journal == ["a", "b", "b"]
