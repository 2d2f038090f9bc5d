"""Postmark's webhooks: one JSON event per request, unsigned. Postmark proves itself with what
its webhook settings allow (CONTRACTS.md section 4, "Webhooks"): basic-auth credentials put in
the webhook's URL, or a secret in a custom header; either one configured suffices, compared in
constant time (``credentials.py``).

Postmark signs no time, so a replayed request passes the check: its event comes back with the
same ``event_id`` and de-duplication keeps it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import Malformed, WebhookRequest
from micromailer.webhooks.credentials import HeaderCredentials
from micromailer.webhooks.records import detail, event_key, instant, load_json, raw_key, text
from micromailer.webhooks.tables import Outcome, field, outcome

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
    """Postmark's events, once the request carries the configured credentials."""

    provider = PROVIDER

    def __init__(self, credentials: HeaderCredentials) -> None:
        self._credentials = credentials

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        self._credentials.check(request.headers)
        record = load_json(request.body)
        if not isinstance(record, dict):
            raise Malformed("the body is not a Postmark event (one JSON object)")
        return [parse_event(record, now)]


def parse_event(record: dict[str, Any], now: datetime) -> ProviderEvent:
    """One Postmark event record in micromailer's vocabulary (``now`` when it has no time)."""
    kind = text(record.get("RecordType")) or "unknown"
    qualifier = _qualifier(kind, record)
    event_type, bounce = outcome(EVENTS, (kind, qualifier))
    own_id = record.get("ID")
    return ProviderEvent(
        provider=PROVIDER,
        type=event_type,
        at=instant(record.get(_TIMES.get(kind, "ReceivedAt"))) or now,
        # Bounces and complaints have an id of their own; the other records, their hash.
        event_id=event_key(
            f"{kind}:{own_id}" if isinstance(own_id, int | str) and own_id != ""
            else raw_key(record)
        ),
        email_id=text(field(record, "Metadata", "email_id")),
        message_id=text(record.get("MessageID")),
        recipient=text(record.get("Email")) or text(record.get("Recipient")),
        bounce=bounce,
        detail=detail(
            f"{kind} ({qualifier})" if qualifier else kind,
            text(record.get("OriginalLink")) or text(record.get("Details"))
            or text(record.get("Description")),
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


def real(settings: Settings) -> PostmarkWebhook | None:
    """The scheme for ``POSTMARK_WEBHOOK_USERNAME`` + ``POSTMARK_WEBHOOK_PASSWORD`` and/or
    ``POSTMARK_WEBHOOK_TOKEN``; ``None`` when none is set."""
    password, token = settings.postmark_webhook_password, settings.postmark_webhook_token
    password_text = password.get_secret_value() if password is not None else ""
    token_text = token.get_secret_value() if token is not None else ""
    if not password_text and not token_text:
        return None
    return PostmarkWebhook(HeaderCredentials(
        username=(settings.postmark_webhook_username or None) if password_text else None,
        password=password_text or None,
        token=token_text or None,
        token_header=TOKEN_HEADER.lower(),
        token_prefix="",
    ))


def sandbox() -> PostmarkWebhook:
    """The scheme for the events the sandbox's fake sends."""
    return PostmarkWebhook(HeaderCredentials(username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD))


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
