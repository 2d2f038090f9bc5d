"""A new email as the intake stores it: its id, its rendered content and its sender."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from micromailer.domain.attempt import NewEmail, Submitter
from micromailer.domain.idempotency import KeptAnswer, Reservation
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
    """The row to store: a fresh id, the request, and its content ``rendered``."""
    email_id = str(uuid.uuid4())
    reservation = submission.reservation
    return NewEmail(
        email_id=email_id,
        to_email=request.to,
        to_name=request.to_name,
        subject=request.subject,
        content=request.content,
        html=rendered.html,
        text=rendered.text,
        sender_email=sender.email,
        sender_name=sender.name,
        project=submission.project,
        test=submission.test,
        submitter=submission.submitter,
        idempotency=None if reservation is None else KeptAnswer(
            reservation, ACCEPTED_STATUS, accepted_body(email_id)
        ),
    )


__all__ = ["ACCEPTED_STATUS", "Accepted", "Sender", "Submission", "accepted_body", "new_email"]
