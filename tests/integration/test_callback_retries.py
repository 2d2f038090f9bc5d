"""One callback delivery, try after try, on SQLite and PostgreSQL with a hand-moved clock and a
real receiver on loopback: tries follow the schedule, long waits are left to the sweeper, the
last try fails the delivery for good, and an outcome applies only under its own claim."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from micromailer.callbacks.deliverer import COUNTDOWN_MAX, CallbackDeliverer
from micromailer.callbacks.metrics import CallbackMetrics
from micromailer.callbacks.schedule import RetrySchedule
from micromailer.callbacks.sender import CallbackSender
from micromailer.store.callback_deliveries import CALLBACK_DELETED, CallbackDeliveryStore
from micromailer.store.callback_outbox import enqueue_callbacks
from micromailer.store.callbacks import CallbackStore
from micromailer.store.engine import make_engine
from micromailer.store.models import CallbackDeliveryRow
from tests.support.backends import migrated_database
from tests.support.fakes import FakeClock
from tests.support.receiver import CallbackReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class World:
    """A store on ``clock``, a callback to ``receiver``'s URL, and a deliverer whose planned
    retries land in :attr:`planned`."""

    def __init__(self, url: str, clock: FakeClock, receiver: CallbackReceiver,
                 schedule: tuple[float, ...]) -> None:
        self.engine = make_engine(url, pool_size=2)
        self.clock = clock
        self.receiver = receiver
        self.callbacks = CallbackStore(self.engine, clock)
        self.store = CallbackDeliveryStore(self.engine, clock)
        self.planned: list[tuple[str, float]] = []
        self.metrics = CallbackMetrics(CollectorRegistry())
        self.sender = CallbackSender(timeout=5, allow_private=True, clock=clock)
        self.deliverer = CallbackDeliverer(
            self.store, self.sender, RetrySchedule(schedule),
            lambda delivery_id, delay: self.planned.append((delivery_id, delay)), self.metrics,
        )
        self.callback = self.callbacks.add(None, receiver.url, ["*"], SECRET)

    def enqueue(self) -> str:
        with self.engine.begin() as connection:
            [delivery_id] = enqueue_callbacks(connection, None, "an-email", "delivered",
                                              status="delivered", now=self.clock.now)
        return delivery_id

    def row(self, delivery_id: str) -> CallbackDeliveryRow:
        with Session(self.engine) as session:
            row = session.get(CallbackDeliveryRow, delivery_id)
            assert row is not None
            return row

    def tries(self, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "micromailer_callback_deliveries_total", {"outcome": outcome})
        return value or 0.0

    def close(self) -> None:
        self.sender.close()
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeWorld = Callable[..., World]


@pytest.fixture
def world(database_url: str, clock: FakeClock) -> Iterator[MakeWorld]:
    """``world(receiver, *schedule)``; each one closed at the end."""
    made: list[World] = []

    def make(receiver: CallbackReceiver, *schedule: float) -> World:
        made.append(World(database_url, clock, receiver, schedule))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_a_failing_receiver_is_tried_again_on_the_schedule_then_delivered_once(
    world: MakeWorld, clock: FakeClock,
) -> None:
    with CallbackReceiver(fail_first=2) as receiver:
        w = world(receiver, 5, 300, 1800)
        delivery_id = w.enqueue()

        assert w.deliverer.deliver(delivery_id) == "pending"
        first = w.row(delivery_id)
        assert (first.attempts, first.last_status_code, first.last_error) == (1, 500, "HTTP 500")
        assert first.next_at == clock.now + timedelta(seconds=5)
        assert w.planned == [(delivery_id, 5.0)]
        assert w.deliverer.deliver(delivery_id) is None, "not due yet: nothing sent"
        assert len(receiver.arrivals()) == 1

        clock.advance(5)
        assert w.deliverer.deliver(delivery_id) == "pending"
        assert w.planned[-1] == (delivery_id, 300.0)
        clock.advance(300)
        assert w.deliverer.deliver(delivery_id) == "delivered"
        assert w.deliverer.deliver(delivery_id) is None, "delivered: never sent again"

        done = w.row(delivery_id)
        assert (done.status, done.attempts, done.last_status_code, done.last_error) == (
            "delivered", 3, 200, None)
        assert (done.delivered_at, done.next_at) == (clock.now, None)
        assert [a.answered for a in receiver.arrivals()] == [500, 500, 200]
        assert {a.headers["webhook-id"] for a in receiver.arrivals()} == {delivery_id}
        assert (w.tries("retrying"), w.tries("delivered"), w.tries("failed")) == (2, 1, 0)


def test_a_receiver_that_never_recovers_fails_the_delivery_after_the_last_try(
    world: MakeWorld, clock: FakeClock,
) -> None:
    with CallbackReceiver(fail_first=None, fail_status=503, fail_body=b"down\n" * 10_000
                          ) as receiver:
        w = world(receiver, 1, 2)
        delivery_id = w.enqueue()

        statuses = []
        for wait in (0, 1, 2):
            clock.advance(wait)
            statuses.append(w.deliverer.deliver(delivery_id))
        clock.advance(3600)

        assert statuses == ["pending", "pending", "failed"]
        assert w.deliverer.deliver(delivery_id) is None
        row = w.row(delivery_id)
        assert (row.status, row.attempts, row.last_status_code, row.next_at) == (
            "failed", 3, 503, None)
        assert row.last_error is not None and row.last_error.startswith("HTTP 503: down down")
        assert len(row.last_error) < 200, "the answer is read and kept only in part"
        assert len(receiver.arrivals()) == 3
        assert (w.tries("retrying"), w.tries("failed")) == (2, 1)


def test_a_wait_longer_than_a_countdown_is_left_to_the_sweeper(
    world: MakeWorld, clock: FakeClock,
) -> None:
    long_wait = COUNTDOWN_MAX * 6
    with CallbackReceiver(fail_first=1) as receiver:
        w = world(receiver, long_wait)
        delivery_id = w.enqueue()
        assert w.deliverer.deliver(delivery_id) == "pending"
        assert w.planned == [], "no task held for an hour: the sweeper publishes it when due"

        clock.advance(long_wait)
        assert w.store.sweep(sweep_after=60) == [], "due, not yet overdue"
        clock.advance(61)
        assert w.store.sweep(sweep_after=60) == [delivery_id]
        assert w.store.sweep(sweep_after=60) == [], "re-armed: another sweeper skips it"
        assert w.deliverer.deliver(delivery_id) == "delivered"


def test_a_lost_task_is_swept_and_a_stale_outcome_changes_nothing(
    world: MakeWorld, clock: FakeClock,
) -> None:
    with CallbackReceiver() as receiver:
        w = world(receiver, 5)
        delivery_id = w.enqueue()
        clock.advance(61)  # its task never came
        assert w.store.sweep(sweep_after=60) == [delivery_id]

        job = w.store.claim(delivery_id, lease_seconds=35)
        assert job is not None and job.attempt == 1
        clock.advance(36 + 61)  # its worker died mid-try: the lease ran out, the sweeper sees it
        assert w.store.sweep(sweep_after=60) == [delivery_id]
        newer = w.store.claim(delivery_id, lease_seconds=35)
        assert newer is not None and newer.attempt == 2

        assert w.store.record(job, 200, None, None) is None, "stale: the newer claim decides"
        assert w.row(delivery_id).status == "pending"
        assert w.store.record(newer, 200, None, None) == "delivered"


def test_a_deleted_callbacks_pending_delivery_ends_failed_untried(
    world: MakeWorld, clock: FakeClock,
) -> None:
    with CallbackReceiver() as receiver:
        w = world(receiver, 5)
        delivery_id = w.enqueue()
        assert w.callbacks.delete(w.callback.id)

        assert w.deliverer.deliver(delivery_id) is None
        row = w.row(delivery_id)
        assert (row.status, row.attempts, row.last_error) == ("failed", 0, CALLBACK_DELETED)
        assert receiver.arrivals() == []

