"""The sandbox fakes' event webhooks: each fake sends its provider's events, in its provider's
format and signed as its provider signs them, back to ``POST /webhooks/{provider}``.

One module per provider (``sandbox/events/<provider>.py``) provides ``signed_request``; the key
material it signs with is the sandbox's (public: sandbox events may move only sandbox emails,
``webhooks/registry.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from micromailer.domain.events import BounceKind, EventType


@dataclass(frozen=True, slots=True)
class SandboxEvent:
    """One event a fake reports about a message it accepted."""

    type: EventType
    email_id: str
    #: The message id the fake answered the send with.
    message_id: str
    recipient: str
    at: datetime
    bounce: BounceKind | None = None
    #: The reason, for a bounce; the URL, for a click.
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A webhook request as the provider would send it."""

    #: The URL to POST to (the service's webhook URL, with any credentials or query the
    #: provider puts there).
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


#: ``signed_request(events, webhook_url, now)`` of one provider: a request carrying ``events``.
Signer = Callable[[list[SandboxEvent], str, datetime], SignedRequest]

# Each provider's module reads the types above, so it is imported once they are defined.
from micromailer.sandbox.events import (  # noqa: E402
    brevo,
    mailgun,
    mandrill,
    postmark,
    resend,
    sendgrid,
    ses,
    sparkpost,
)

#: Every provider's signer, by name.
SIGNERS: dict[str, Signer] = {
    "sendgrid": sendgrid.signed_request,
    "mandrill": mandrill.signed_request,
    "mailgun": mailgun.signed_request,
    "postmark": postmark.signed_request,
    "ses": ses.signed_request,
    "sparkpost": sparkpost.signed_request,
    "brevo": brevo.signed_request,
    "resend": resend.signed_request,
}


__all__ = ["SIGNERS", "SandboxEvent", "SignedRequest", "Signer"]
