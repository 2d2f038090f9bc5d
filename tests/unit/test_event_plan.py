"""What a fake reports after accepting a message: delivered for everyone, a hard bounce for
``bounce@``, delivered then a complaint for ``complain@``, nothing without an email id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from micromailer.domain.events import BounceKind, EventType
from micromailer.domain.simulator import ReservedRecipient
from micromailer.sandbox.capture import CapturedMessage
from micromailer.sandbox.event_plan import BOUNCE_REASON, planned_events

AT = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


def captured(to: str, metadata: dict[str, object] | None = None) -> CapturedMessage:
    return CapturedMessage(
        message_id="msg-7", to=to, to_name=None, from_email="billing@example.org",
        from_name=None, subject="s", html=None, text="t",
        metadata={"email_id": "email-7"} if metadata is None else metadata, received_at=AT,
    )


def steps(to: str, delay: float = 2.0) -> list[tuple[float, EventType, BounceKind | None]]:
    return [(e.after, e.type, e.bounce) for e in planned_events(captured(to), delay)]


@pytest.mark.parametrize(
    "to", ["alice@example.com", ReservedRecipient.DELIVERED.address,
           ReservedRecipient.SLOW.address, "someone@simulator.micromailer.test"],
)
def test_every_other_recipient_is_delivered_after_the_delay(to: str) -> None:
    assert steps(to) == [(2.0, EventType.DELIVERED, None)]


def test_bounce_is_a_hard_bounce_instead_of_a_delivery() -> None:
    [event] = planned_events(captured("Bounce@Simulator.Micromailer.Test"), 1.5)

    assert (event.after, event.type, event.bounce, event.detail) == (
        1.5, EventType.BOUNCED, BounceKind.HARD, BOUNCE_REASON
    )


def test_complain_is_delivered_then_a_complaint_one_delay_later() -> None:
    assert steps(ReservedRecipient.COMPLAIN.address, 0.5) == [
        (0.5, EventType.DELIVERED, None), (1.0, EventType.COMPLAINED, None)
    ]


def test_each_event_carries_the_email_id_the_message_id_and_the_recipient() -> None:
    [planned] = planned_events(captured("alice@example.com"), 2.0)

    event = planned.happened(AT)

    assert (event.email_id, event.message_id, event.recipient, event.at) == (
        "email-7", "msg-7", "alice@example.com", AT
    )


@pytest.mark.parametrize("metadata", [{}, {"email_id": ""}, {"email_id": 7}])
def test_a_message_without_micromailers_email_id_is_reported_on_by_nobody(
    metadata: dict[str, object],
) -> None:
    assert planned_events(captured("alice@example.com", metadata), 2.0) == []
