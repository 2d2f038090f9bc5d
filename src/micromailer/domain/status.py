"""Closed vocabularies of an email's life."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where an email stands. From ``sent`` on, delivery is over: the provider's events may
    still move it to ``delivered``, ``bounced`` or ``complained``."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"

    @property
    def is_final(self) -> bool:
        """Whether no worker will try it again (a ``failed`` email may be retried by hand)."""
        return self not in (Status.QUEUED, Status.SENDING)


class Outcome(StrEnum):
    """What one provider try came to."""

    SENT = "sent"
    #: The provider failed in a way that may pass: server error, timeout, rate limit, auth.
    FAILED = "failed"
    #: The provider refused this request as malformed; another provider may take it.
    REJECTED = "rejected"
    #: The recipient was refused for good (invalid, bounced, suppressed).
    RECIPIENT_REJECTED = "recipient_rejected"


__all__ = ["Outcome", "Status"]
