"""Brevo's transactional webhook: one JSON event per POST, or a JSON array of them when the
webhook is ``batched`` (doc: developers.brevo.com/docs/transactional-webhooks). Brevo signs
nothing: a request carries the Basic credentials of the webhook's URL or the bearer token of
its ``auth`` setting. Types through :data:`EVENTS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.providers.brevo import METADATA_HEADER
from micromailer.webhooks.base import Malformed, WebhookRequest
from micromailer.webhooks.credentials import HeaderCredentials
from micromailer.webhooks.records import (
    bounded,
    detail,
    event_key,
    instant,
    load_json,
    raw_key,
    text,
)

PROVIDER = "brevo"

#: Brevo's ``event`` → micromailer's type and, for a bounce, its kind. Every transactional
#: email event Brevo documents (and ``complaint`` and ``unsubscribe``, seen in the wild); any
#: other → ``unknown``.
EVENTS: dict[str, tuple[EventType, BounceKind | None]] = {
    # "Sent": Brevo took the message for delivery; the email is `sent` already.
    "request": (EventType.UNKNOWN, None),
    "delivered": (EventType.DELIVERED, None),
    "hard_bounce": (EventType.BOUNCED, BounceKind.HARD),
    "soft_bounce": (EventType.BOUNCED, BounceKind.SOFT),
    # Brevo did not send: a blocked (blacklisted) or invalid address, or an error on its side.
    "blocked": (EventType.DROPPED, None),
    "invalid_email": (EventType.DROPPED, None),
    "error": (EventType.DROPPED, None),
    "deferred": (EventType.DEFERRED, None),
    "spam": (EventType.COMPLAINED, None),
    "complaint": (EventType.COMPLAINED, None),
    "opened": (EventType.OPENED, None),
    "unique_opened": (EventType.OPENED, None),
    "proxy_open": (EventType.OPENED, None),
    "unique_proxy_open": (EventType.OPENED, None),
    "click": (EventType.CLICKED, None),
    "unsubscribed": (EventType.UNSUBSCRIBED, None),
    "unsubscribe": (EventType.UNSUBSCRIBED, None),
}

#: Longest ``X-Mailin-custom`` value read for the email id.
MAX_METADATA_CHARS = 16 * 1024

#: The sandbox's webhook token: public, sandbox-only (events it verifies move only the
#: sandbox's emails).
SANDBOX_TOKEN = "micromailer-sandbox-brevo-webhook"


class BrevoWebhook:
    """Brevo's events, once the request carries the configured credentials."""

    provider = PROVIDER

    def __init__(self, credentials: HeaderCredentials) -> None:
        self._credentials = credentials

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        self._credentials.check(request.headers)
        body = load_json(request.body)
        records = body if isinstance(body, list) else [body]
        events = []
        for index, record in enumerate(bounded(records)):
            if not isinstance(record, dict) or not isinstance(record.get("event"), str):
                raise Malformed(f'event {index} is not a Brevo event (an object with "event")')
            events.append(parse_event(record, now))
        return events


def parse_event(record: Mapping[str, Any], now: datetime) -> ProviderEvent:
    """One Brevo event in micromailer's terms."""
    name = str(record["event"])
    kind, bounce = EVENTS.get(name, (EventType.UNKNOWN, None))
    return ProviderEvent(
        provider=PROVIDER,
        type=kind,
        # ts_epoch and ts_event are UTC; "date" is in the account's time zone.
        at=instant(record.get("ts_epoch")) or instant(record.get("ts_event")) or now,
        event_id=event_key(raw_key(record)),
        email_id=_email_id(record.get(METADATA_HEADER)),
        message_id=message_id(record.get("message-id")),
        recipient=text(record.get("email")),
        bounce=bounce,
        detail=detail(name, record.get("reason") or record.get("link")),
        raw=record,
    )


def message_id(value: Any) -> str | None:
    """Brevo's message id as the adapter records it (the send's ``messageId``): in angle
    brackets, which some events leave out."""
    found = text(value)
    if found is None:
        return None
    found = found.strip()
    return found if found.startswith("<") else f"<{found}>"


def _email_id(value: Any) -> str | None:
    """The ``email_id`` of the ``X-Mailin-custom`` JSON the adapter sends."""
    if not isinstance(value, str) or len(value) > MAX_METADATA_CHARS:
        return None
    try:
        metadata = json.loads(value)
    except ValueError:
        return None
    return text(metadata.get("email_id")) if isinstance(metadata, dict) else None


def real(settings: Settings) -> BrevoWebhook | None:
    """Brevo's webhook, on when its Basic credentials or its bearer token are set."""
    password, token = settings.brevo_webhook_password, settings.brevo_webhook_token
    if not settings.brevo_webhook_username and token is None:
        return None
    return BrevoWebhook(HeaderCredentials(
        username=settings.brevo_webhook_username or None,
        password=password.get_secret_value() if password is not None else None,
        token=token.get_secret_value() if token is not None else None,
    ))


def sandbox() -> BrevoWebhook:
    """Brevo's webhook for the sandbox's events."""
    return BrevoWebhook(HeaderCredentials(token=SANDBOX_TOKEN))


__all__ = [
    "EVENTS",
    "MAX_METADATA_CHARS",
    "PROVIDER",
    "SANDBOX_TOKEN",
    "BrevoWebhook",
    "message_id",
    "parse_event",
    "real",
    "sandbox",
]
