"""A new email as the intake stores it: its id, its rendered content and its sender."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from micromailer.delivery.carriage import Carriage
from micromailer.domain.attempt import NewEmail, Submitter
from micromailer.domain.envelope import AttachmentInfo, Envelope, stored_envelope
from micromailer.domain.idempotency import KeptAnswer, Reservation
from micromailer.domain.message import Address, Message
from micromailer.domain.rendering import RenderedContent
from micromailer.domain.validation import EmailRequest


@dataclass(frozen=True, slots=True)
class Sender:
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Accepted:
    email_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Submission:
    """Where an email comes from: its project, whether it is a test, who sent it."""

    project: str | None = None
    test: bool = False
    submitter: Submitter = field(default_factory=Submitter)
    #: The ``Idempotency-Key`` reserved for it: the email's commit completes it with the 202.
    reservation: Reservation | None = None


#: The status the intake answers an accepted email with.
ACCEPTED_STATUS = 202


def accepted_body(email_id: str) -> str:
    """The 202's body, ``{"status":"queued","emailId":…}`` as ``JSONResponse`` writes it: what
    the intake answers, and what an ``Idempotency-Key`` keeps to answer again."""
    return '{"status":"queued","emailId":"' + email_id + '"}'


def new_email(
    request: EmailRequest, sender: Sender, rendered: RenderedContent,
    submission: Submission = Submission(),
) -> NewEmail:
    """The row to store: a fresh id, the request, and its body ``rendered`` (from its
    Markdown, or its own ``html`` and ``text``); its own ``from`` replaces ``sender``."""
    email_id = str(uuid.uuid4())
    reservation = submission.reservation
    first = request.to[0]
    from_ = request.sender
    return NewEmail(
        email_id=email_id,
        to_email=first.email,
        to_name=first.name,
        subject=request.subject,
        content=request.content or "",
        html=rendered.html,
        text=rendered.text,
        sender_email=from_.email if from_ else sender.email,
        sender_name=(from_.name or "") if from_ else sender.name,
        project=submission.project,
        test=submission.test,
        submitter=submission.submitter,
        idempotency=None if reservation is None else KeptAnswer(
            reservation, ACCEPTED_STATUS, accepted_body(email_id)
        ),
        envelope=None if request.plain else stored_envelope(envelope_of(request)),
        attachments=request.attachments,
        recipients=tuple(item.email.lower() for item in (*request.to, *request.cc,
                                                          *request.bcc)),
        ignore_suppressions=request.ignore_suppressions,
    )


def envelope_of(request: EmailRequest) -> Envelope:
    """Every recipient and extra of ``request``."""
    return Envelope(
        to=request.to, cc=request.cc, bcc=request.bcc, reply_to=request.reply_to,
        headers=request.headers, tags=request.tags, metadata=request.metadata,
        attachments=tuple(AttachmentInfo.of(item) for item in request.attachments),
    )


def message_of(new: NewEmail) -> Message:
    """The message ``new`` will be sent as, as a worker will load it."""
    envelope = (Envelope.from_json(new.envelope) if new.envelope
                else Envelope.single(new.to_email, new.to_name))
    return envelope.message(
        email_id=new.email_id, subject=new.subject, html=new.html, text=new.text,
        sender=Address(new.sender_email, new.sender_name or None),
        attachments=new.attachments, test=new.test,
    )


def check_carriage(carriage: Carriage, new: NewEmail) -> None:
    """Raise ``MessageRefused`` when ``new`` cannot be sent; a short message to one recipient
    without files is passed without building its message (the common case)."""
    if new.envelope is None and not new.attachments and carriage.fits_alone(
        len(new.subject) + len(new.html) + len(new.text)
    ):
        return
    carriage.check(message_of(new))


__all__ = [
    "ACCEPTED_STATUS",
    "Accepted",
    "Sender",
    "Submission",
    "accepted_body",
    "check_carriage",
    "envelope_of",
    "message_of",
    "new_email",
]
