"""Resend's webhook: one event ``{type, created_at, data}`` per POST, signed by Svix
(``svix-id``, ``svix-timestamp``, ``svix-signature``: HMAC-SHA256 with the webhook's
``whsec_…`` secret), which is the Standard Webhooks scheme under other header names: the
``standardwebhooks`` library verifies it. Types through :data:`EVENTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import (
    REPLAY_WINDOW_SECONDS,
    Malformed,
    Unverified,
    WebhookRequest,
)
from micromailer.webhooks.records import (
    bounded,
    detail,
    event_key,
    instant,
    load_json,
    mapping,
    text,
)

PROVIDER = "resend"

#: Resend's event ``type`` → micromailer's type and, for a bounce, its kind. A bounce is
#: looked up as ``email.bounced/<bounce.type>/<bounce.subType>``, then
#: ``email.bounced/<bounce.type>``, then ``email.bounced``. Every ``email.*`` event of the
#: spec's ``webhooks``; any other (``contact.*``, ``domain.*``) → ``unknown``.
EVENTS: dict[str, tuple[EventType, BounceKind | None]] = {
    # Resend took the email (or will at its scheduled time): it is `sent` already.
    "email.sent": (EventType.UNKNOWN, None),
    "email.scheduled": (EventType.UNKNOWN, None),
    "email.delivered": (EventType.DELIVERED, None),
    "email.delivery_delayed": (EventType.DEFERRED, None),
    # "The recipient's mail server permanently rejected the email".
    "email.bounced": (EventType.BOUNCED, BounceKind.HARD),
    "email.bounced/Permanent": (EventType.BOUNCED, BounceKind.HARD),
    "email.bounced/Transient": (EventType.BOUNCED, BounceKind.SOFT),
    "email.bounced/Undetermined": (EventType.BOUNCED, BounceKind.SOFT),
    # Not sent to an address on the suppression list (it bounced or complained before).
    "email.bounced/Permanent/Suppressed": (EventType.DROPPED, None),
    "email.bounced/Permanent/OnAccountSuppressionList": (EventType.DROPPED, None),
    "email.suppressed": (EventType.DROPPED, None),
    "email.failed": (EventType.DROPPED, None),
    "email.complained": (EventType.COMPLAINED, None),
    "email.opened": (EventType.OPENED, None),
    "email.clicked": (EventType.CLICKED, None),
    # An inbound email to a receiving domain: not about a sent email.
    "email.received": (EventType.UNKNOWN, None),
}

#: Svix's header → the Standard Webhooks header the library reads.
HEADERS = {
    "svix-id": "webhook-id",
    "svix-timestamp": "webhook-timestamp",
    "svix-signature": "webhook-signature",
}

#: The sandbox's signing secret: public, sandbox-only (events it verifies move only the
#: sandbox's emails).
SANDBOX_SECRET = "whsec_bWljcm9tYWlsZXItc2FuZGJveC1yZXNlbmQtaG9vayE="


class ResendWebhook:
    """Resend's events, once their Svix signature verifies with the webhook's secret."""

    provider = PROVIDER

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        headers = {ours: request.headers.get(theirs, "") for theirs, ours in HEADERS.items()}
        missing = [theirs for theirs, ours in HEADERS.items() if not headers[ours]]
        if missing:
            raise Unverified(f"the request lacks {', '.join(missing)}")
        sent = instant(headers["webhook-timestamp"])
        if sent is None:
            raise Unverified("svix-timestamp is not a Unix time")
        if abs(now - sent) > timedelta(seconds=REPLAY_WINDOW_SECONDS):
            raise Unverified("svix-timestamp is more than five minutes away (a replay)")
        try:
            # Also refuses a timestamp five minutes away from the wall clock.
            self._webhook.verify(request.body, headers, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:
            # ValueError: a signature or a body some versions of the library cannot decode.
            raise Unverified(f"the Svix signature does not verify ({exc})") from None
        body = load_json(request.body)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise Malformed('the body is not a Resend event (an object with "type")')
        return parse_event(body, headers["webhook-id"], sent)


def parse_event(body: Mapping[str, Any], svix_id: str, sent: datetime) -> list[ProviderEvent]:
    """One Resend event in micromailer's terms: an event per recipient it names."""
    name = str(body["type"])
    data = mapping(body.get("data"))
    bounce_details = mapping(data.get("bounce"))
    kind, bounce = EVENTS.get(_key(name, bounce_details), (EventType.UNKNOWN, None))
    to = data.get("to")
    recipients = [address for address in bounded(to, "recipients") if isinstance(address, str)] \
        if isinstance(to, list) else ([to] if isinstance(to, str) else [])
    at = instant(body.get("created_at")) or sent.astimezone(UTC)
    email_id, message_id = _tag(data.get("tags"), "email_id"), text(data.get("email_id"))
    sentence = detail(_label(name, bounce_details), _reason(data, bounce_details))

    def event(recipient: str | None, several: bool) -> ProviderEvent:
        return ProviderEvent(
            provider=PROVIDER, type=kind, at=at,
            event_id=event_key(svix_id, recipient if several else None),
            email_id=email_id, message_id=message_id, recipient=recipient, bounce=bounce,
            detail=sentence, raw=body,
        )

    if len(recipients) <= 1:
        return [event(recipients[0] if recipients else None, several=False)]
    return [event(recipient, several=True) for recipient in recipients]


def _key(name: str, bounce: Mapping[str, Any]) -> str:
    """The most specific row of :data:`EVENTS` for this event (``name`` when none is)."""
    if name != "email.bounced":
        return name
    kind, sub = bounce.get("type"), bounce.get("subType")
    return next(key for key in (f"{name}/{kind}/{sub}", f"{name}/{kind}", name) if key in EVENTS)


def _label(name: str, bounce: Mapping[str, Any]) -> str:
    if name == "email.bounced" and bounce:
        return f"{name} ({bounce.get('type')}, {bounce.get('subType')})"
    return name


def _reason(data: Mapping[str, Any], bounce: Mapping[str, Any]) -> Any:
    """What the event says: a bounce's message, the link clicked, why it failed…"""
    return (bounce.get("message") or mapping(data.get("click")).get("link")
            or mapping(data.get("failed")).get("reason")
            or mapping(data.get("suppressed")).get("message"))


def _tag(tags: Any, name: str) -> str | None:
    """One of the email's tags: an object in webhooks, or the send's ``[{name, value}]``."""
    if isinstance(tags, Mapping):
        return text(tags.get(name))
    if isinstance(tags, list):
        for tag in tags[:100]:
            if isinstance(tag, Mapping) and tag.get("name") == name:
                return text(tag.get("value"))
    return None


def real(settings: Settings) -> ResendWebhook | None:
    """Resend's webhook, on when its signing secret is set."""
    secret = settings.resend_webhook_secret
    return ResendWebhook(secret.get_secret_value().strip()) if secret is not None else None


def sandbox() -> ResendWebhook:
    """Resend's webhook for the sandbox's events."""
    return ResendWebhook(SANDBOX_SECRET)


__all__ = [
    "EVENTS",
    "HEADERS",
    "PROVIDER",
    "SANDBOX_SECRET",
    "ResendWebhook",
    "parse_event",
    "real",
    "sandbox",
]
