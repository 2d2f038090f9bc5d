"""The message a provider adapter sends: rendered, addressed, ready."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One email to one recipient, with its HTML body and plain-text alternative."""

    email_id: str
    to_email: str
    to_name: str | None
    subject: str
    html: str
    text: str
    sender_email: str
    sender_name: str
    #: Sent with a test key: only the sandbox fakes may carry it.
    test: bool = False


__all__ = ["Message"]
