"""Closed vocabularies of an email's life."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where an email stands. ``sent`` and ``failed`` are final."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (Status.SENT, Status.FAILED)


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
