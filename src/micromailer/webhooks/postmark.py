"""Postmark's webhooks: one JSON event per request, unsigned. Postmark proves itself with what
its webhook settings allow (CONTRACTS.md section 4, "Webhooks"): basic-auth credentials put in
the webhook's URL, and custom headers; this checks either or both, in constant time.

Postmark signs no time, so a replayed request passes the check: its event comes back with the
same ``event_id`` and de-duplication keeps it once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import (
    Outcome,
    content_id,
    field,
    iso_time,
    json_document,
    outcome,
    short,
    text,
)

PROVIDER = "postmark"
#: The custom header that carries ``POSTMARK_WEBHOOK_TOKEN`` (set in Postmark's webhook).
TOKEN_HEADER = "X-Micromailer-Webhook-Token"

#: The sandbox's basic-auth credentials. Public (they are in this repository) and for the
#: sandbox only: events they verify may move only the sandbox's emails.
SANDBOX_USERNAME = "micromailer-sandbox"
SANDBOX_PASSWORD = "micromailer-sandbox-postmark-webhook"

#: Where each record type keeps its time.
_TIMES = {
    "Delivery": "DeliveredAt", "Bounce": "BouncedAt", "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt", "Click": "ReceivedAt", "SubscriptionChange": "ChangedAt",
}

#: Postmark's ``RecordType`` (with a bounce's ``Type``; a subscription change's
#: ``SuppressionReason``, or ``Reactivated`` when it lifts one) → micromailer's type and bounce
#: kind. The first row of each outcome is how the sandbox's fake reports it.
EVENTS: dict[tuple[str, str | None], Outcome] = {
    ("Delivery", None): (EventType.DELIVERED, None),
    ("Bounce", "HardBounce"): (EventType.BOUNCED, BounceKind.HARD),
    ("Bounce", "BadEmailAddress"): (EventType.BOUNCED, BounceKind.HARD),
    ("Bounce", "SoftBounce"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "DnsError"): (EventType.BOUNCED, BounceKind.SOFT),
    # Refused by the receiving side's filters, not for the address: may pass later.
    ("Bounce", "SpamNotification"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "VirusNotification"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "Blocked"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "DMARCPolicy"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "Unknown"): (EventType.BOUNCED, BounceKind.SOFT),
    ("Bounce", "Transient"): (EventType.DEFERRED, None),
    # Postmark did not send: an address it deactivated, an unconfirmed sender, a failure
    # before sending.
    ("Bounce", "ManuallyDeactivated"): (EventType.DROPPED, None),
    ("Bounce", "Unconfirmed"): (EventType.DROPPED, None),
    ("Bounce", "SMTPApiError"): (EventType.DROPPED, None),
    ("Bounce", "TemplateRenderingFailed"): (EventType.DROPPED, None),
    ("SpamComplaint", None): (EventType.COMPLAINED, None),
    ("Bounce", "SpamComplaint"): (EventType.COMPLAINED, None),
    ("Open", None): (EventType.OPENED, None),
    ("Click", None): (EventType.CLICKED, None),
    ("SubscriptionChange", "ManualSuppression"): (EventType.UNSUBSCRIBED, None),
    ("Bounce", "Unsubscribe"): (EventType.UNSUBSCRIBED, None),
    # Replies and notices that are no delivery outcome; inbound mail.
    ("Bounce", "Subscribe"): (EventType.UNKNOWN, None),
    ("Bounce", "AutoResponder"): (EventType.UNKNOWN, None),
    ("Bounce", "AddressChange"): (EventType.UNKNOWN, None),
    ("Bounce", "OpenRelayTest"): (EventType.UNKNOWN, None),
    ("Bounce", "ChallengeVerification"): (EventType.UNKNOWN, None),
    ("Bounce", "InboundError"): (EventType.UNKNOWN, None),
    # The suppression that follows a hard bounce or a complaint (their own events carry
    # them), and one lifted.
    ("SubscriptionChange", "HardBounce"): (EventType.UNKNOWN, None),
    ("SubscriptionChange", "SpamComplaint"): (EventType.UNKNOWN, None),
    ("SubscriptionChange", "Reactivated"): (EventType.UNKNOWN, None),
}


class PostmarkWebhook:
    """Checks the credentials Postmark is set to send, and reads its event."""

    provider = PROVIDER

    def __init__(
        self, *, username: str | None = None, password: str | None = None,
        token: str | None = None,
    ) -> None:
        if (username is None) != (password is None) or (password is None and token is None):
            raise ValueError("give a username with a password, a token, or both")
        self._basic = (
            f"{username}:{password}".encode() if username is not None else None
        )
        self._token = token.encode("utf-8") if token is not None else None

    def __repr__(self) -> str:
        return f"PostmarkWebhook(basic={self._basic is not None}, token={self._token is not None})"

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        self.verify(request)
        try:
            record = json_document(request.body)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise Malformed("Postmark's webhook body must be one JSON object")
        return [parse_event(record)]

    def verify(self, request: WebhookRequest) -> None:
        """Raises :class:`Unverified` unless every configured credential is there."""
        if self._basic is not None and not _same(_basic_credentials(request), self._basic):
            raise Unverified("no basic-auth credentials, or not the ones set for Postmark")
        if self._token is not None:
            given = request.headers.get(TOKEN_HEADER.lower())
            if not _same(given.encode("utf-8", "replace") if given else None, self._token):
                raise Unverified(f"no {TOKEN_HEADER} header, or not the token set for Postmark")


def _basic_credentials(request: WebhookRequest) -> bytes | None:
    """``user:password`` of the request's basic ``Authorization``; ``None`` without one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _same(given: bytes | None, expected: bytes) -> bool:
    return given is not None and hmac.compare_digest(given, expected)


def parse_event(record: dict[str, Any]) -> ProviderEvent:
    """One Postmark event record in micromailer's vocabulary."""
    kind = text(record.get("RecordType")) or ""
    event_type, bounce = outcome(EVENTS, (kind, _qualifier(kind, record)))
    own_id = text(record.get("ID"))
    return ProviderEvent(
        provider=PROVIDER,
        type=event_type,
        at=_time(kind, record),
        # Bounces and complaints have an id of their own; the other records, their hash.
        event_id=f"{kind}:{own_id}" if own_id else content_id(record),
        email_id=text(field(record, "Metadata", "email_id")),
        message_id=text(record.get("MessageID")),
        recipient=text(record.get("Email")) or text(record.get("Recipient")),
        bounce=bounce,
        detail=short(
            record.get("OriginalLink") or record.get("Details") or record.get("Description")
        ),
        raw=record,
    )


def _qualifier(kind: str, record: dict[str, Any]) -> str | None:
    if kind == "Bounce":
        return text(record.get("Type"))
    if kind == "SubscriptionChange":
        if record.get("SuppressSending") is False:
            return "Reactivated"
        return text(record.get("SuppressionReason"))
    return None


def _time(kind: str, record: dict[str, Any]) -> datetime:
    name = _TIMES.get(kind) or next((n for n in _TIMES.values() if n in record), "ReceivedAt")
    return iso_time(record.get(name), name)


def real(settings: Settings) -> PostmarkWebhook | None:
    """The scheme for ``POSTMARK_WEBHOOK_USERNAME`` + ``POSTMARK_WEBHOOK_PASSWORD`` and/or
    ``POSTMARK_WEBHOOK_TOKEN``; ``None`` when none is set."""
    username, password, token = (
        secret.get_secret_value() if secret is not None and secret.get_secret_value() else None
        for secret in (
            settings.postmark_webhook_username, settings.postmark_webhook_password,
            settings.postmark_webhook_token,
        )
    )
    if password is None and token is None:
        return None
    return PostmarkWebhook(username=username, password=password, token=token)


def sandbox() -> PostmarkWebhook:
    """The scheme for the events the sandbox's fake sends."""
    return PostmarkWebhook(username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD)


__all__ = [
    "EVENTS",
    "PROVIDER",
    "SANDBOX_PASSWORD",
    "SANDBOX_USERNAME",
    "TOKEN_HEADER",
    "PostmarkWebhook",
    "parse_event",
    "real",
    "sandbox",
]
