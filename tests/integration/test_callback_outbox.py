"""The callback outbox on SQLite and PostgreSQL: an email's outcome adds one delivery per
subscribed callback of its project, in the transaction that records the outcome, and only if
that outcome applies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.store.callback_outbox import enqueue_callbacks
from micromailer.store.callbacks import CallbackStore
from micromailer.store.claims import AttemptRecord, ClaimStore
from micromailer.store.engine import make_engine
from micromailer.store.models import CallbackDeliveryRow
from tests.support.backends import migrated_database
from tests.support.fakes import FakeClock, Stores, stores_on

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
URL = "https://93.184.216.34/hook"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Stores]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=2)
        yield stores_on(engine, clock)
        engine.dispose()


@pytest.fixture
def published() -> list[str]:
    return []


@pytest.fixture
def claims(store: Stores, clock: FakeClock, published: list[str]) -> ClaimStore:
    return ClaimStore(store.engine, clock, publish_callbacks=published.extend)


def deliveries(store: Stores) -> list[CallbackDeliveryRow]:
    with Session(store.engine) as session:
        return list(session.scalars(select(CallbackDeliveryRow)
                                    .order_by(CallbackDeliveryRow.id)).all())


def sent(email_id: str, attempt: int, clock: FakeClock) -> AttemptRecord:
    attempt_try = ProviderTry("sendgrid", clock.now, clock.now + timedelta(seconds=1),
                              Outcome.SENT, 202, None)
    return AttemptRecord(email_id, attempt, [attempt_try], Status.SENT, None,
                         provider="sendgrid", provider_message_id="sg-42")


def test_a_sent_email_adds_a_delivery_for_each_subscribed_callback_of_its_project(
    store: Stores, claims: ClaimStore, clock: FakeClock, published: list[str],
) -> None:
    callbacks = CallbackStore(store.engine, clock)
    wants_sent = callbacks.add("shop", URL, ["sent"], SECRET)
    wants_all = callbacks.add("shop", URL, ["*"], SECRET)
    callbacks.add("shop", URL, ["delivered", "bounced"], SECRET)  # not this event
    callbacks.add("blog", URL, ["*"], SECRET)  # another project
    gone = callbacks.add("shop", URL, ["*"], SECRET)
    callbacks.delete(gone.id)
    email_id = store.add(project="shop")
    assert claims.claim(email_id, 30) is not None

    assert claims.record([sent(email_id, 1, clock)]) == [True]

    rows = deliveries(store)
    assert sorted(row.callback_id for row in rows) == sorted([wants_sent.id, wants_all.id])
    assert sorted(published) == sorted(row.id for row in rows)
    for row in rows:
        assert row.id.startswith("msg_") and len(row.id) <= 40
        assert (row.status, row.attempts, row.event, row.email_id) == (
            "pending", 0, "sent", email_id)
        assert row.next_at == clock.now
        assert json.loads(row.payload) == {
            "type": "email.sent",
            "timestamp": clock.now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": {"emailId": email_id, "status": "sent", "provider": "sendgrid",
                     "providerMessageId": "sg-42"},
        }


def test_a_failed_email_tells_its_error_and_a_retry_tells_nothing(
    store: Stores, claims: ClaimStore, clock: FakeClock,
) -> None:
    CallbackStore(store.engine, clock).add(None, URL, ["*"], SECRET)
    email_id = store.add()  # no project: authentication is off
    claims.claim(email_id, 30)
    claims.record([claims.retry_record(email_id, 1, [], "sendgrid: HTTP 503", 10)])
    assert deliveries(store) == []
    clock.advance(11)
    claims.claim(email_id, 30)

    claims.record([AttemptRecord(email_id, 2, [], Status.FAILED, "gave up: HTTP 503")])

    [row] = deliveries(store)
    assert json.loads(row.payload)["data"] == {
        "emailId": email_id, "status": "failed", "error": "gave up: HTTP 503"}


def test_a_stale_outcome_tells_nothing(
    store: Stores, claims: ClaimStore, clock: FakeClock,
) -> None:
    CallbackStore(store.engine, clock).add(None, URL, ["*"], SECRET)
    email_id = store.add()
    claims.claim(email_id, 30)
    clock.advance(31)
    claims.claim(email_id, 30)  # another worker took it over: attempt 2

    assert claims.record([sent(email_id, 1, clock)]) == [False]
    assert deliveries(store) == []


def test_enqueued_rows_exist_only_if_the_callers_transaction_commits(
    store: Stores, clock: FakeClock,
) -> None:
    CallbackStore(store.engine, clock).add("shop", URL, ["bounced"], SECRET)
    email_id = store.add(project="shop")

    with store.engine.connect() as connection:
        ids = enqueue_callbacks(connection, "shop", email_id, "bounced", status="bounced",
                                data={"bounce": "hard"}, now=clock.now)
        assert len(ids) == 1
        connection.rollback()
    assert deliveries(store) == []

    with Session(store.engine) as session, session.begin():
        ids = enqueue_callbacks(session, "shop", email_id, "bounced", status="bounced",
                                data={"bounce": "hard"}, now=clock.now)
    [row] = deliveries(store)
    assert row.id == ids[0]
    assert json.loads(row.payload)["data"] == {"emailId": email_id, "status": "bounced",
                                               "bounce": "hard"}


def test_an_unknown_event_is_a_programming_error(store: Stores, clock: FakeClock) -> None:
    with store.engine.connect() as connection, pytest.raises(ValueError, match="read"):
        enqueue_callbacks(connection, "shop", "an-email", "read", status="sent")
