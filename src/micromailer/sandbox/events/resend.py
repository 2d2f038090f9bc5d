"""The fake Resend's events: one ``{type, created_at, data}`` per POST, signed by Svix's
scheme with the sandbox's ``whsec_…`` secret (through the ``standardwebhooks`` library)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import event_id, iso_millis, one_kind
from micromailer.webhooks.resend import SANDBOX_SECRET

#: Sandbox event → Resend's event ``type``.
EVENT_TYPES: dict[EventType, str] = {
    EventType.DELIVERED: "email.delivered",
    EventType.BOUNCED: "email.bounced",
    EventType.DEFERRED: "email.delivery_delayed",
    EventType.DROPPED: "email.failed",
    EventType.COMPLAINED: "email.complained",
    EventType.OPENED: "email.opened",
    EventType.CLICKED: "email.clicked",
    EventType.UNKNOWN: "email.sent",
}
SANDBOX_FROM = "micromailer sandbox <sandbox@micromailer.test>"


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime
                   ) -> SignedRequest:
    """Resend's POST of ``events`` (one type, one email: their recipients in ``data.to``),
    signed with the sandbox's secret at ``now``."""
    first = one_kind(events, "Resend")
    if first.type not in EVENT_TYPES:
        raise ValueError(f"Resend has no webhook event for {first.type}")
    body = json.dumps(event_body(events)).encode()
    svix_id = "msg_" + event_id("resend", first, 27)
    signature = Webhook(SANDBOX_SECRET).sign(svix_id, now, body.decode("ascii"))
    return SignedRequest(
        url=webhook_url,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Svix-Webhooks/1.0",
            "svix-id": svix_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
        },
        body=body,
    )


def event_body(events: list[SandboxEvent]) -> dict[str, Any]:
    """Resend's event (the spec's ``webhooks``), with the ``email_id`` tag the adapter sends."""
    first = events[0]
    when = iso_millis(first.at)
    data: dict[str, Any] = {
        "email_id": first.message_id,
        "created_at": when,
        "from": SANDBOX_FROM,
        "to": [event.recipient for event in events],
        "subject": "",
        "tags": {"email_id": first.email_id},
    }
    if first.type is EventType.BOUNCED:
        hard = first.bounce is not BounceKind.SOFT
        data["bounce"] = {
            "type": "Permanent" if hard else "Transient",
            "subType": "General" if hard else "MailboxFull",
            "message": first.detail or ("The recipient's mail server permanently rejected the "
                                        "email." if hard else "The recipient's mailbox is full."),
            "diagnosticCode": ["smtp; 550 5.1.1 user unknown" if hard
                               else "smtp; 452 4.2.2 mailbox full"],
        }
    elif first.type is EventType.CLICKED:
        data["click"] = {"ipAddress": "192.0.2.1", "link": first.detail or "https://example.com/",
                         "timestamp": when, "userAgent": "micromailer sandbox"}
    elif first.type is EventType.DROPPED:
        data["failed"] = {"reason": first.detail or "suppressed"}
    return {"type": EVENT_TYPES[first.type], "created_at": when, "data": data}


__all__ = ["EVENT_TYPES", "SANDBOX_FROM", "event_body", "signed_request"]
