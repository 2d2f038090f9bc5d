"""What happened to an email after a provider accepted it, in one vocabulary for every provider.

Each provider's webhook module (``webhooks/<provider>.py``) turns its provider's events into
:class:`ProviderEvent` s; the store matches them to emails, keeps them once, and moves the
email's status with :func:`status_after`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from micromailer.domain.status import Status


class EventType(StrEnum):
    """The closed set every provider's events are normalised into."""

    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    COMPLAINED = "complained"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"


class BounceKind(StrEnum):
    """A hard bounce will fail again (no such mailbox); a soft one may pass later."""

    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One event as a provider reported it, normalised; ``raw`` is the provider's own record."""

    provider: str
    type: EventType
    at: datetime
    #: The provider's identity of this event, the same each time the provider resends it.
    event_id: str
    #: micromailer's email id, when the provider echoed it (every adapter sends it as metadata).
    email_id: str | None = None
    #: The provider's message id, as the adapter recorded it when the email was sent.
    message_id: str | None = None
    recipient: str | None = None
    bounce: BounceKind | None = None
    #: A short sentence from the provider (the bounce's reason, the link clicked…).
    detail: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def suppresses(self) -> bool:
        """Whether the recipient must not be sent to again: a hard bounce or a complaint."""
        return self.type is EventType.COMPLAINED or (
            self.type is EventType.BOUNCED and self.bounce is BounceKind.HARD
        )


#: How far along each status is; an event never moves an email to a lower rank.
_RANK = {
    Status.SENT: 0,
    Status.DELIVERED: 1,
    Status.BOUNCED: 2,
    Status.COMPLAINED: 3,
}
#: The status an event type moves an email to; the others leave it as it is.
_MOVES = {
    EventType.DELIVERED: Status.DELIVERED,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.COMPLAINED: Status.COMPLAINED,
}


def status_after(current: Status, event: EventType) -> Status | None:
    """The status ``event`` moves an email in ``current`` to; ``None`` when it stays.

    Only accepted emails move, and never backwards: a late ``delivered`` does not undo a
    ``bounced``, and a complaint (which comes after delivery) outranks both.
    """
    target = _MOVES.get(event)
    if target is None or current not in _RANK:
        return None
    return target if _RANK[target] > _RANK[current] else None


__all__ = ["BounceKind", "EventType", "ProviderEvent", "status_after"]
