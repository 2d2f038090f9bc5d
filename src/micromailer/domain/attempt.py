"""Provider tries and the records an email is shown with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from micromailer.domain.envelope import Envelope
from micromailer.domain.idempotency import KeptAnswer, Reservation
from micromailer.domain.message import Attachment
from micromailer.domain.status import Outcome, Status


@dataclass(frozen=True, slots=True)
class ProviderTry:
    """One call to one provider within a delivery attempt."""

    provider: str
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who handed an email in, as the audit log records it: never content or secrets."""

    #: The API key's name; ``None`` when authentication is off.
    key_name: str | None = None
    #: The client's address, through trusted proxies.
    client: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class NewEmail:
    """An accepted, rendered email about to be stored."""

    email_id: str
    to_email: str
    to_name: str | None
    subject: str
    content: str
    html: str
    text: str
    sender_email: str
    sender_name: str
    #: The sending key's project; ``None`` when authentication is off.
    project: str | None = None
    #: Sent with a test key: the sandbox fakes deliver it, never a real provider.
    test: bool = False
    #: Who sent it, for the audit log.
    submitter: Submitter = field(default_factory=Submitter)
    #: The ``Idempotency-Key`` reserved for its request: a :class:`KeptAnswer` completes it
    #: with that answer in the email's commit; a bare :class:`Reservation` (the other emails of
    #: a batch) stores the email only if another email of the same commit completes the key.
    idempotency: KeptAnswer | Reservation | None = None
    #: Every recipient and extra as JSON (``domain/envelope.py``); ``None`` for one ``to``
    #: recipient and nothing else.
    envelope: str | None = None
    #: Its files, stored once beside it.
    attachments: tuple[Attachment, ...] = ()
    #: Every recipient's address in lower case (to, cc, bcc): what the suppression list is
    #: checked against.
    recipients: tuple[str, ...] = ()
    #: Sent even to suppressed addresses, as the request asked.
    ignore_suppressions: bool = False


@dataclass(frozen=True, slots=True)
class EventView:
    """A provider's event about an email, as the API shows it."""

    type: str
    at: datetime
    provider: str
    detail: str | None
    recipient: str | None
    bounce: str | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt_number: int
    provider: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    #: The email's delivery cycle the try belongs to: 1, then one more per retry by hand.
    cycle: int = 1


@dataclass(frozen=True, slots=True)
class EmailView:
    """An email as the API shows it."""

    email_id: str
    to_email: str
    to_name: str | None
    subject: str
    status: Status
    provider: str | None
    provider_message_id: str | None
    error: str | None
    attempt_count: int
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptView] = field(default_factory=list)
    project: str | None = None
    test: bool = False
    sender_email: str = ""
    sender_name: str | None = None
    #: Every recipient and extra, attachments by name and size.
    envelope: Envelope | None = None
    #: Retries by hand, each a new delivery cycle (``POST /email/{id}/retry``).
    retries: int = 0
    #: What the providers reported after accepting it, oldest first.
    events: list[EventView] = field(default_factory=list)


__all__ = ["AttemptView", "EmailView", "EventView", "NewEmail", "ProviderTry", "Submitter"]
