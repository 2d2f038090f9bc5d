"""Provider events move an accepted email's status forward, never back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from micromailer.domain.events import BounceKind, EventType, ProviderEvent, status_after
from micromailer.domain.status import Status


@pytest.mark.parametrize(("current", "event", "after"), [
    (Status.SENT, EventType.DELIVERED, Status.DELIVERED),
    (Status.SENT, EventType.BOUNCED, Status.BOUNCED),
    (Status.SENT, EventType.COMPLAINED, Status.COMPLAINED),
    (Status.DELIVERED, EventType.BOUNCED, Status.BOUNCED),
    (Status.DELIVERED, EventType.COMPLAINED, Status.COMPLAINED),
    (Status.BOUNCED, EventType.COMPLAINED, Status.COMPLAINED),
])
def test_an_event_moves_the_status_forward(
    current: Status, event: EventType, after: Status
) -> None:
    assert status_after(current, event) is after


@pytest.mark.parametrize(("current", "event"), [
    (Status.BOUNCED, EventType.DELIVERED),
    (Status.COMPLAINED, EventType.DELIVERED),
    (Status.COMPLAINED, EventType.BOUNCED),
    (Status.DELIVERED, EventType.DELIVERED),
    (Status.SENT, EventType.OPENED),
    (Status.SENT, EventType.DEFERRED),
    (Status.QUEUED, EventType.DELIVERED),
    (Status.SENDING, EventType.DELIVERED),
    (Status.FAILED, EventType.BOUNCED),
])
def test_an_event_never_moves_it_back_nor_before_it_was_sent(
    current: Status, event: EventType
) -> None:
    assert status_after(current, event) is None


def test_only_hard_bounces_and_complaints_suppress() -> None:
    def event(type_: EventType, bounce: BounceKind | None = None) -> ProviderEvent:
        return ProviderEvent("sendgrid", type_, datetime.now(UTC), "e1", bounce=bounce)

    assert event(EventType.BOUNCED, BounceKind.HARD).suppresses
    assert event(EventType.COMPLAINED).suppresses
    assert not event(EventType.BOUNCED, BounceKind.SOFT).suppresses
    assert not event(EventType.DELIVERED).suppresses
    assert not event(EventType.UNSUBSCRIBED).suppresses
