"""Mandrill's (Mailchimp Transactional) webhook: a form with one field, ``mandrill_events``, a
JSON array of events, signed by ``X-Mandrill-Signature`` = base64 HMAC-SHA1 over the webhook's
URL and each POST field's name and value, sorted by name (CONTRACTS.md section 2).

Mandrill signs no time, so a replayed request passes the check: its events come back with the
same ``event_id`` and de-duplication keeps them once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import (
    bounded,
    detail,
    event_key,
    instant,
    load_json,
    raw_key,
    text,
)
from micromailer.webhooks.tables import Outcome, field, outcome

PROVIDER = "mandrill"
SIGNATURE_HEADER = "X-Mandrill-Signature"
EVENTS_FIELD = "mandrill_events"

#: The sandbox's webhook key. Public (it is in this repository) and for the sandbox only:
#: events it verifies may move only the sandbox's emails.
SANDBOX_WEBHOOK_KEY = "micromailer-sandbox-mandrill-webhook-key"

#: Mandrill's ``event`` (``type`` for its sync events) → micromailer's type and bounce kind.
#: The first row of each outcome is how the sandbox's fake reports it.
EVENTS: dict[str, Outcome] = {
    "delivered": (EventType.DELIVERED, None),
    "deferral": (EventType.DEFERRED, None),
    "hard_bounce": (EventType.BOUNCED, BounceKind.HARD),
    "soft_bounce": (EventType.BOUNCED, BounceKind.SOFT),
    "reject": (EventType.DROPPED, None),
    "spam": (EventType.COMPLAINED, None),
    "open": (EventType.OPENED, None),
    "click": (EventType.CLICKED, None),
    "unsub": (EventType.UNSUBSCRIBED, None),
    # Accepted by Mandrill (micromailer already says ``sent``); changes to the rejection
    # lists (sync events, about an address, not a message); mail received.
    "send": (EventType.UNKNOWN, None),
    "blacklist": (EventType.UNKNOWN, None),
    "whitelist": (EventType.UNKNOWN, None),
    "inbound": (EventType.UNKNOWN, None),
}


class MandrillWebhook:
    """Verifies Mandrill's signature with the webhook's key and reads its events."""

    provider = PROVIDER

    def __init__(self, key: str, url: str | None = None) -> None:
        self._key = key.encode("utf-8")
        #: The URL Mandrill signs; ``None``: the request's own.
        self._url = url

    def __repr__(self) -> str:
        # Neither the key nor the URL, which may carry basic-auth credentials.
        url = "configured" if self._url else "request's"
        return f"MandrillWebhook(url={url})"

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        params = self.verify(request)
        if EVENTS_FIELD not in params:
            raise Malformed(f"no {EVENTS_FIELD} field in the form")
        batch = load_json(params[EVENTS_FIELD].encode("utf-8"))
        if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
            raise Malformed(f"{EVENTS_FIELD} is not a JSON array of event objects")
        return [parse_event(record, now) for record in bounded(batch)]

    def verify(self, request: WebhookRequest) -> dict[str, str]:
        """The request's form, once its signature is Mandrill's; else :class:`Unverified`."""
        given = request.headers.get(SIGNATURE_HEADER.lower())
        if not given:
            raise Unverified(f"no {SIGNATURE_HEADER} header")
        params = request.form()
        expected = sign(self._key, self._url or request.url, params)
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
            raise Unverified(
                f"the signature is not Mandrill's for this body and the URL "
                f"{'configured' if self._url else 'the request came to'}"
            )
        return params


def sign(key: bytes, url: str, params: dict[str, str]) -> str:
    """Mandrill's signature: base64 HMAC-SHA1 of the URL and each field's name and value,
    sorted by name."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(key, signed.encode("utf-8"), hashlib.sha1).digest()).decode()


def parse_event(record: dict[str, Any], now: datetime) -> ProviderEvent:
    """One Mandrill event record in micromailer's vocabulary (``now`` when it has no time)."""
    name = text(record.get("event")) or text(record.get("type")) or "unknown"
    event_type, bounce = outcome(EVENTS, name)
    msg = record.get("msg")
    return ProviderEvent(
        provider=PROVIDER,
        type=event_type,
        at=instant(record.get("ts")) or now,
        event_id=event_id(record),
        email_id=text(field(msg, "metadata", "email_id")),
        message_id=text(record.get("_id")) or text(field(msg, "_id")),
        recipient=text(field(msg, "email")) or text(field(record, "reject", "email")),
        bounce=bounce,
        detail=detail(name, _reason(record, msg)),
        raw=record,
    )


def event_id(record: dict[str, Any]) -> str:
    """Mandrill gives its events no id: the hash of the event's own fields (its name, time,
    message id, clicked URL…), without the ``msg`` snapshot of the message's state it carries,
    which may have moved on when Mandrill resends the batch."""
    return event_key(raw_key({name: value for name, value in record.items() if name != "msg"}))


def _reason(record: dict[str, Any], msg: Any) -> str | None:
    """A bounce's description and diagnostic, a deferral's last diagnostic, the clicked URL, a
    sync event's reason."""
    if text(record.get("url")):
        return text(record.get("url"))
    smtp_events = field(msg, "smtp_events")
    last = smtp_events[-1] if isinstance(smtp_events, list) and smtp_events else None
    parts = [text(field(msg, "bounce_description")),
             text(field(msg, "diag")) or text(field(last, "diag"))]
    return "; ".join(part for part in parts if part) or text(field(record, "reject", "reason"))


def real(settings: Settings) -> MandrillWebhook | None:
    """The scheme for ``MANDRILL_WEBHOOK_KEY`` (and ``MANDRILL_WEBHOOK_URL``); ``None`` when
    the key is not set."""
    key = settings.mandrill_webhook_key
    if key is None or not key.get_secret_value():
        return None
    url = settings.mandrill_webhook_url
    return MandrillWebhook(
        key.get_secret_value(), url.get_secret_value().strip() if url is not None else None
    )


def sandbox() -> MandrillWebhook:
    """The scheme for the events the sandbox's fake signs (the request's URL, as it signs)."""
    return MandrillWebhook(SANDBOX_WEBHOOK_KEY)


__all__ = [
    "EVENTS",
    "EVENTS_FIELD",
    "PROVIDER",
    "SANDBOX_WEBHOOK_KEY",
    "SIGNATURE_HEADER",
    "MandrillWebhook",
    "event_id",
    "parse_event",
    "real",
    "sandbox",
    "sign",
]
