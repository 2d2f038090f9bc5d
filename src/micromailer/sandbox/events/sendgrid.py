"""The fake SendGrid's events: a JSON array of SendGrid event records, signed as SendGrid's
signed Event Webhook signs (ECDSA P-256 over timestamp + body) with the sandbox's key."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import stable_id
from micromailer.webhooks.sendgrid import (
    EVENTS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sandbox_private_key,
)
from micromailer.webhooks.tables import first_key

#: What SendGrid's records carry when the fake has no text of its own.
_DEFAULT_DETAIL = {
    "delivered": ("response", "250 2.0.0 OK"),
    "deferred": ("response", "421 4.7.0 Try again later"),
    "bounce": ("reason", "550 5.1.1 The email account that you tried to reach does not exist"),
    "dropped": ("reason", "Bounced Address"),
    "click": ("url", "https://example.com/"),
}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime) -> SignedRequest:
    """One POST carrying ``events``, as SendGrid sends its batches."""
    # SendGrid's body ends with CRLF, which its signature covers.
    body = json.dumps([record(event) for event in events], separators=(",", ":")).encode() + (
        b"\r\n"
    )
    timestamp = str(int(now.timestamp()))
    signature = sandbox_private_key().sign(
        timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256())
    )
    return SignedRequest(
        url=webhook_url,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: timestamp,
        },
        body=body,
    )


def record(event: SandboxEvent) -> dict[str, Any]:
    """``event`` as SendGrid's record of it, ``email_id`` echoed from the send's custom args."""
    name, kind = first_key(EVENTS, (event.type, event.bounce), "SendGrid")
    entry: dict[str, Any] = {
        "email": event.recipient,
        "timestamp": int(event.at.timestamp()),
        "event": name,
        "smtp-id": f"<{event.message_id}@sandbox.micromailer.test>",
        "sg_event_id": _event_id(event),
        # SendGrid's id starts with the X-Message-Id the send answered.
        "sg_message_id": f"{event.message_id}.filterdrecv-sandbox-0-0.0",
        "email_id": event.email_id,
    }
    if kind is not None:
        entry["type"] = kind
    if name in _DEFAULT_DETAIL:
        key, default = _DEFAULT_DETAIL[name]
        entry[key] = event.detail or default
    if name == "bounce":
        entry["status"] = "5.1.1" if kind == "bounce" else "4.0.0"
    return entry


def _event_id(event: SandboxEvent) -> str:
    """22 URL-safe characters like SendGrid's, the same each time ``event`` is sent."""
    digest = bytes.fromhex(stable_id("sendgrid", event.message_id, event.type, event.bounce,
                                     event.recipient, event.at.isoformat()))
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


__all__ = ["record", "signed_request"]
