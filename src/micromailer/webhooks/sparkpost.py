"""SparkPost's event webhook: batches POSTed as a JSON array of ``{"msys": {"<class>_event":
{…}}}`` (webhooks.apib "Batch Information"). SparkPost signs nothing: a request carries the
Basic credentials the webhook is configured with (``auth_type`` basic), or the deprecated
``X-MessageSystems-Webhook-Token``. Types through :data:`EVENTS`, bounce kinds through
:data:`BOUNCE_CLASSES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import Malformed, WebhookRequest
from micromailer.webhooks.credentials import HeaderCredentials
from micromailer.webhooks.records import (
    bounded,
    detail,
    event_key,
    instant,
    load_json,
    mapping,
    raw_key,
    text,
)

PROVIDER = "sparkpost"

#: SparkPost's event ``type`` → micromailer's. Every type of its message, generation,
#: engagement and unsubscribe events; any other (relay, A/B test, ingest…) → ``unknown``.
EVENTS: dict[str, EventType] = {
    # SparkPost accepted the message for delivery: the email is `sent` already.
    "injection": EventType.UNKNOWN,
    "delivery": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    # A bounce the receiving server sent after accepting the message.
    "out_of_band": EventType.BOUNCED,
    "delay": EventType.DEFERRED,
    # SparkPost refused to send (policy, a suppressed recipient, a template that failed).
    "policy_rejection": EventType.DROPPED,
    "generation_failure": EventType.DROPPED,
    "generation_rejection": EventType.DROPPED,
    "spam_complaint": EventType.COMPLAINED,
    "open": EventType.OPENED,
    "initial_open": EventType.OPENED,
    "amp_open": EventType.OPENED,
    "amp_initial_open": EventType.OPENED,
    "click": EventType.CLICKED,
    "amp_click": EventType.CLICKED,
    "list_unsubscribe": EventType.UNSUBSCRIBED,
    "link_unsubscribe": EventType.UNSUBSCRIBED,
}

#: SparkPost's bounce classification codes (``bounce_class``) → the bounce's kind: its
#: category Hard is hard; Soft, Block (the receiver blocked the sender or the content, not the
#: address), Admin (SparkPost's own policy) and Undetermined are soft. SparkPost itself
#: suppresses only the Hard ones. An unknown code is soft.
BOUNCE_CLASSES: dict[str, BounceKind] = {
    "1": BounceKind.SOFT,  # Undetermined
    "10": BounceKind.HARD,  # Invalid Recipient
    "20": BounceKind.SOFT,  # Soft Bounce
    "21": BounceKind.SOFT,  # DNS Failure
    "22": BounceKind.SOFT,  # Mailbox Full
    "23": BounceKind.SOFT,  # Too Large
    "24": BounceKind.SOFT,  # Timeout
    "25": BounceKind.SOFT,  # Admin Failure
    "30": BounceKind.HARD,  # Generic Bounce: No RCPT
    "40": BounceKind.SOFT,  # Generic Bounce
    "50": BounceKind.SOFT,  # Mail Block
    "51": BounceKind.SOFT,  # Spam Block
    "52": BounceKind.SOFT,  # Spam Content
    "53": BounceKind.SOFT,  # Prohibited Attachment
    "54": BounceKind.SOFT,  # Relaying Denied
    "60": BounceKind.SOFT,  # Auto-Reply
    "70": BounceKind.SOFT,  # Transient Failure
    "80": BounceKind.SOFT,  # Subscribe
    "90": BounceKind.HARD,  # Unsubscribe
    "100": BounceKind.SOFT,  # Challenge-Response
}

#: The header of the deprecated ``auth_token``.
TOKEN_HEADER = "x-messagesystems-webhook-token"

#: The sandbox's webhook credentials: public, sandbox-only (events they verify move only the
#: sandbox's emails).
SANDBOX_USERNAME = "micromailer-sandbox"
SANDBOX_PASSWORD = "sandbox-sparkpost-webhook"


class SparkPostWebhook:
    """SparkPost's batches, once the request carries the configured credentials."""

    provider = PROVIDER

    def __init__(self, credentials: HeaderCredentials) -> None:
        self._credentials = credentials

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        self._credentials.check(request.headers)
        batch = load_json(request.body)
        if not isinstance(batch, list):
            raise Malformed('the body is not a SparkPost batch (a JSON array of {"msys": …})')
        events: list[ProviderEvent] = []
        for index, item in enumerate(bounded(batch)):
            if not isinstance(item, dict) or not isinstance(item.get("msys"), dict):
                raise Malformed(f'event {index} of the batch is not a {{"msys": …}} object')
            # An empty "msys" is SparkPost's test POST (a ping): no event.
            events.extend(
                parse_event(item, record, now)
                for record in item["msys"].values() if isinstance(record, dict)
            )
        return events


def parse_event(item: Mapping[str, Any], record: Mapping[str, Any], now: datetime
                ) -> ProviderEvent:
    """One SparkPost event (``record``, inside the batch's ``item``) in micromailer's terms."""
    name = text(record.get("type")) or "unknown"
    kind = EVENTS.get(name, EventType.UNKNOWN)
    bounce_class = str(record.get("bounce_class", ""))
    bounce = BOUNCE_CLASSES.get(bounce_class, BounceKind.SOFT) if kind is EventType.BOUNCED \
        else None
    metadata = {**mapping(record.get("metadata")), **mapping(record.get("rcpt_meta"))}
    label = f"{name} (bounce class {bounce_class})" if bounce_class else name
    reason = (record.get("raw_reason") or record.get("reason") or record.get("error_code")
              or record.get("target_link_url") or record.get("fbtype"))
    return ProviderEvent(
        provider=PROVIDER,
        type=kind,
        at=instant(record.get("timestamp")) or now,
        event_id=event_key(text(record.get("event_id")) or raw_key(item)),
        email_id=text(metadata.get("email_id")),
        message_id=_identifier(record.get("transmission_id")),
        recipient=text(record.get("raw_rcpt_to")) or text(record.get("rcpt_to")),
        bounce=bounce,
        detail=detail(label, reason),
        raw=item,
    )


def _identifier(value: Any) -> str | None:
    """A transmission id as the adapter records it: text (SparkPost may send a number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value)


def real(settings: Settings) -> SparkPostWebhook | None:
    """SparkPost's webhook, on when its Basic credentials or its token are set."""
    password, token = settings.sparkpost_webhook_password, settings.sparkpost_webhook_token
    if not settings.sparkpost_webhook_username and token is None:
        return None
    return SparkPostWebhook(HeaderCredentials(
        username=settings.sparkpost_webhook_username or None,
        password=password.get_secret_value() if password is not None else None,
        token=token.get_secret_value() if token is not None else None,
        token_header=TOKEN_HEADER,
        token_prefix="",
    ))


def sandbox() -> SparkPostWebhook:
    """SparkPost's webhook for the sandbox's events."""
    return SparkPostWebhook(HeaderCredentials(username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD))


__all__ = [
    "BOUNCE_CLASSES",
    "EVENTS",
    "PROVIDER",
    "SANDBOX_PASSWORD",
    "SANDBOX_USERNAME",
    "TOKEN_HEADER",
    "SparkPostWebhook",
    "parse_event",
    "real",
    "sandbox",
]
