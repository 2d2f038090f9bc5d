"""Accept an email: render it, store it (commit), then publish its delivery."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from micromailer.domain.attempt import NewEmail
from micromailer.domain.rendering import render_markdown
from micromailer.domain.validation import EmailRequest
from micromailer.store.emails import EmailStore

log = logging.getLogger(__name__)

#: Publishes ``deliver(email_id)`` now.
PublishDelivery = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Sender:
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Accepted:
    email_id: str
    created_at: datetime


def new_email(request: EmailRequest, sender: Sender) -> NewEmail:
    """A fresh id, the Markdown rendered as HTML and text: the row to store."""
    rendered = render_markdown(request.content)
    return NewEmail(
        email_id=str(uuid.uuid4()),
        to_email=request.to,
        to_name=request.to_name,
        subject=request.subject,
        content=request.content,
        html=rendered.html,
        text=rendered.text,
        sender_email=sender.email,
        sender_name=sender.name,
    )


def accept_email(
    request: EmailRequest, store: EmailStore, publish: PublishDelivery, sender: Sender
) -> Accepted:
    """Store ``request`` as a queued email and publish it.

    The row is committed before anything is published: once this returns, the email is never
    lost. A failed publish is logged, not raised: the row stays ``queued`` and the sweeper
    publishes it again.
    """
    new = new_email(request, sender)
    email_id = new.email_id
    created_at = store.add_email(new)
    try:
        publish(email_id)
    except Exception as exc:
        log.warning("email %s stored but not published (%s); the sweeper will", email_id, exc)
    return Accepted(email_id, created_at)


__all__ = ["Accepted", "PublishDelivery", "Sender", "accept_email", "new_email"]
