"""The fake Brevo's events: one JSON event per POST, or an array of them as a ``batched``
webhook sends, with the sandbox webhook's bearer token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from micromailer.domain.events import BounceKind, EventType
from micromailer.providers.brevo import METADATA_HEADER
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.webhooks.brevo import SANDBOX_TOKEN

#: Sandbox event → Brevo's ``event`` (a bounce's by its kind).
EVENT_NAMES: dict[EventType, str] = {
    EventType.DELIVERED: "delivered",
    EventType.BOUNCED: "hard_bounce",
    EventType.DEFERRED: "deferred",
    EventType.DROPPED: "blocked",
    EventType.COMPLAINED: "spam",
    EventType.OPENED: "unique_opened",
    EventType.CLICKED: "click",
    EventType.UNSUBSCRIBED: "unsubscribed",
    EventType.UNKNOWN: "request",
}
#: Brevo's webhook id in the sandbox's events.
SANDBOX_WEBHOOK_ID = 1


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime
                   ) -> SignedRequest:
    """Brevo's POST of ``events``: the event itself for one, an array for several."""
    records = [record(event) for event in events]
    body: Any = records[0] if len(records) == 1 else records
    return SignedRequest(
        url=webhook_url,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SANDBOX_TOKEN}"},
        body=json.dumps(body).encode(),
    )


def record(event: SandboxEvent) -> dict[str, Any]:
    """Brevo's record of one event (the fields of its transactional webhooks page), with the
    ``X-Mailin-custom`` header the adapter sends."""
    name = EVENT_NAMES[event.type]
    if event.type is EventType.BOUNCED and event.bounce is BounceKind.SOFT:
        name = "soft_bounce"
    at = event.at.astimezone(UTC)
    fields: dict[str, Any] = {
        "event": name,
        "email": event.recipient,
        "id": SANDBOX_WEBHOOK_ID,
        "date": at.strftime("%Y-%m-%d %H:%M:%S"),
        "ts": int(at.timestamp()),
        "message-id": event.message_id,
        "ts_event": int(at.timestamp()),
        "ts_epoch": round(at.timestamp() * 1000),
        METADATA_HEADER: json.dumps({"email_id": event.email_id}, separators=(",", ":")),
        "tags": [],
    }
    reasons = {
        "hard_bounce": "550 5.1.1 user unknown",
        "soft_bounce": "452 4.2.2 mailbox full",
        "deferred": "421 4.4.1 try again later",
        "blocked": "blocked : due to blacklist user",
    }
    if name in reasons:
        fields["reason"] = event.detail or reasons[name]
    if name == "click":
        fields["link"] = event.detail or "https://example.com/"
    return fields


__all__ = ["EVENT_NAMES", "SANDBOX_WEBHOOK_ID", "record", "signed_request"]
