"""Provider events through the store, on SQLite and PostgreSQL: matched to their email, kept
once, the status moved forward only, hard bounces and complaints suppressed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.domain.status import Status
from micromailer.store.events import EventStore
from micromailer.store.models import EmailRow
from micromailer.store.suppressions import SuppressionStore
from tests.support.fakes import T0, FakeClock, Stores, stores_in


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with stores_in(request.param, tmp_path, FakeClock()) as made:
        yield made


def sent_email(stores: Stores, *, project: str | None = "shop", test: bool = False,
               message_id: str = "msg-1") -> str:
    email_id = stores.add(project=project, test=test)
    with stores.engine.begin() as connection:
        connection.execute(update(EmailRow).where(EmailRow.id == email_id).values(
            status=Status.SENT.value, provider="sendgrid", provider_message_id=message_id))
    return email_id


def event(type_: EventType, key: str, *, email_id: str | None = None,
          message_id: str | None = None, bounce: BounceKind | None = None,
          provider: str = "sendgrid", minutes: int = 0) -> ProviderEvent:
    return ProviderEvent(provider, type_, T0 + timedelta(minutes=minutes), key,
                         email_id=email_id, message_id=message_id,
                         recipient="Ada@Example.com", bounce=bounce,
                         detail=f"{type_} detail", raw={"event": str(type_), "id": key})


def test_an_event_is_matched_by_email_id_or_message_id_and_moves_the_status(
    stores: Stores,
) -> None:
    first, second = sent_email(stores, message_id="m-1"), sent_email(stores, message_id="m-2")
    events = EventStore(stores.engine)

    done = events.record([event(EventType.DELIVERED, "e1", email_id=first),
                          event(EventType.DELIVERED, "e2", message_id="m-2")], sandbox=False)

    assert (done.recorded, done.duplicates, done.unmatched) == (2, 0, 0)
    assert [(c.email_id, c.status) for c in done.changes] == [
        (first, Status.DELIVERED), (second, Status.DELIVERED)]
    view = stores.emails.get_email(first)
    assert view is not None and view.status is Status.DELIVERED
    assert [(e.type, e.provider, e.detail, e.recipient) for e in view.events] == [
        ("delivered", "sendgrid", "delivered detail", "Ada@Example.com")]


def test_an_event_sent_again_is_kept_once(stores: Stores) -> None:
    email_id = sent_email(stores)
    events = EventStore(stores.engine)
    opened = event(EventType.OPENED, "same", email_id=email_id)

    events.record([opened], sandbox=False)
    again = events.record([opened, opened], sandbox=False)

    assert (again.recorded, again.duplicates) == (0, 2)
    view = stores.emails.get_email(email_id)
    assert view is not None and [e.type for e in view.events] == ["opened"]


def test_the_status_never_goes_back(stores: Stores) -> None:
    email_id = sent_email(stores)
    events = EventStore(stores.engine)

    events.record([event(EventType.BOUNCED, "b", email_id=email_id, bounce=BounceKind.SOFT,
                         minutes=2)], sandbox=False)
    late = events.record([event(EventType.DELIVERED, "d", email_id=email_id, minutes=1)],
                         sandbox=False)

    assert late.recorded == 1 and late.changes == []
    view = stores.emails.get_email(email_id)
    assert view is not None and view.status is Status.BOUNCED
    # both events are shown, in the order they happened
    assert [e.type for e in view.events] == ["delivered", "bounced"]


def test_a_hard_bounce_or_a_complaint_suppresses_the_recipient_in_the_project(
    stores: Stores,
) -> None:
    hard, soft = sent_email(stores, message_id="h"), sent_email(stores, message_id="s")
    other = sent_email(stores, project="other", message_id="o")
    EventStore(stores.engine).record([
        event(EventType.BOUNCED, "1", email_id=hard, bounce=BounceKind.HARD),
        event(EventType.BOUNCED, "2", email_id=soft, bounce=BounceKind.SOFT),
        event(EventType.COMPLAINED, "3", email_id=other),
    ], sandbox=False)

    lists = SuppressionStore(stores.engine)
    shop = lists.list("shop")
    assert [(s.address, s.reason, s.email_id) for s in shop] == [
        ("ada@example.com", "bounced", hard)]
    assert [(s.address, s.reason) for s in lists.list("other")] == [
        ("ada@example.com", "complained")]
    assert lists.suppressed([("shop", "ada@example.com"), ("shop", "bob@example.com"),
                             ("nobody", "ada@example.com")]) == {("shop", "ada@example.com")}


def test_events_of_unknown_emails_are_ignored(stores: Stores) -> None:
    sent_email(stores, message_id="known")
    done = EventStore(stores.engine).record(
        [event(EventType.DELIVERED, "x", message_id="unknown"),
         event(EventType.DELIVERED, "y", message_id="known", provider="mailgun")],
        sandbox=False)
    assert (done.recorded, done.unmatched) == (0, 2)


def test_sandbox_verified_events_reach_only_test_emails(stores: Stores) -> None:
    real, test = sent_email(stores, message_id="r"), sent_email(stores, test=True,
                                                                message_id="t")
    events = EventStore(stores.engine)

    done = events.record([event(EventType.BOUNCED, "1", email_id=real, bounce=BounceKind.HARD),
                          event(EventType.DELIVERED, "2", email_id=test)], sandbox=True)

    assert (done.recorded, done.unmatched) == (1, 1)
    assert stores.row(real).status == Status.SENT.value
    assert stores.row(test).status == Status.DELIVERED.value
    assert SuppressionStore(stores.engine).list("shop") == []
    in_sandbox_mode = events.record(
        [event(EventType.DELIVERED, "3", email_id=real)], sandbox=True, sandbox_mode=True)
    assert in_sandbox_mode.recorded == 1


def test_a_queued_email_keeps_its_status_but_shows_the_event(stores: Stores) -> None:
    email_id = stores.add(project="shop")
    EventStore(stores.engine).record([event(EventType.DELIVERED, "q", email_id=email_id)],
                                     sandbox=False)
    view = stores.emails.get_email(email_id)
    assert view is not None and view.status is Status.QUEUED and len(view.events) == 1
