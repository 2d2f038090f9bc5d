"""What a fake reports after it accepted a message: the same rule in every fake, no I/O.

Every recipient is ``delivered`` after the delay; the simulator's reserved recipients
(``domain/simulator.py``) change that: ``bounce@`` is a hard bounce instead, and ``complain@``
is delivered, then marked as spam after the delay again. A message without micromailer's
email id (sent to the fake by something else) is reported on by nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from micromailer.domain.events import BounceKind, EventType
from micromailer.domain.simulator import ReservedRecipient, reserved_recipient
from micromailer.sandbox.capture import CapturedMessage
from micromailer.sandbox.events import SandboxEvent

#: The reason a ``bounce@`` recipient's hard bounce gives, as a receiving server would.
BOUNCE_REASON = "550 5.1.1 The email account that you tried to reach does not exist."


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One event to report, ``after`` seconds from the message's acceptance."""

    after: float
    type: EventType
    email_id: str
    message_id: str
    recipient: str
    bounce: BounceKind | None = None
    detail: str | None = None

    def happened(self, at: datetime) -> SandboxEvent:
        """The event as it happened at ``at``, for a signer."""
        return SandboxEvent(
            type=self.type, email_id=self.email_id, message_id=self.message_id,
            recipient=self.recipient, at=at, bounce=self.bounce, detail=self.detail,
        )


def planned_events(message: CapturedMessage, delay: float) -> list[PlannedEvent]:
    """``message``'s events in the order they happen, each ``delay`` seconds after the one
    before it (the first ``delay`` seconds after acceptance)."""
    email_id = message.metadata.get("email_id")
    if not isinstance(email_id, str) or not email_id:
        return []
    kind = reserved_recipient(message.to)
    steps: list[tuple[EventType, BounceKind | None, str | None]]
    if kind is ReservedRecipient.BOUNCE:
        steps = [(EventType.BOUNCED, BounceKind.HARD, BOUNCE_REASON)]
    elif kind is ReservedRecipient.COMPLAIN:
        steps = [(EventType.DELIVERED, None, None), (EventType.COMPLAINED, None, None)]
    else:
        steps = [(EventType.DELIVERED, None, None)]
    return [
        PlannedEvent(
            after=delay * position, type=type_, email_id=email_id,
            message_id=message.message_id, recipient=message.to, bounce=bounce, detail=detail,
        )
        for position, (type_, bounce, detail) in enumerate(steps, start=1)
    ]


__all__ = ["BOUNCE_REASON", "PlannedEvent", "planned_events"]
