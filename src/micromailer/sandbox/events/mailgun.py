"""The fake Mailgun's events: one JSON ``{"signature", "event-data"}`` per request, signed as
Mailgun signs (hex HMAC-SHA256 of timestamp + token) with the sandbox's signing key."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Any

from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import stable_id
from micromailer.webhooks.mailgun import EVENTS, SANDBOX_SIGNING_KEY, sign
from micromailer.webhooks.tables import first_key

#: What a ``failed`` record says, by the qualifier of the mapping table.
_FAILURES = {
    "permanent": ("permanent", "bounce", 550,
                  "550 5.1.1 The email account that you tried to reach does not exist"),
    "temporary": ("temporary", "generic", 421, "421 4.7.0 Try again later"),
    "suppressed": ("permanent", "suppress-bounce", 605,
                   "Not delivering to previously bounced address"),
}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime) -> SignedRequest:
    """The POST carrying ``events``' one event: Mailgun sends one event per request."""
    if len(events) != 1:
        raise ValueError(f"Mailgun sends one event per request, not {len(events)}: sign each")
    timestamp = str(int(now.timestamp()))
    token = secrets.token_hex(25)  # 50 characters, as Mailgun's
    document = {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": sign(SANDBOX_SIGNING_KEY.encode("utf-8"), timestamp, token),
        },
        "event-data": event_data(events[0]),
    }
    return SignedRequest(
        url=webhook_url,
        headers={"Content-Type": "application/json"},
        body=json.dumps(document).encode("utf-8"),
    )


def event_data(event: SandboxEvent) -> dict[str, Any]:
    """``event`` as Mailgun's ``event-data``, ``email_id`` echoed from the send's ``v:``
    variables and the message id without its angle brackets, as Mailgun writes it."""
    name, qualifier = first_key(EVENTS, (event.type, event.bounce), "Mailgun")
    data: dict[str, Any] = {
        "event": name,
        "id": base64.urlsafe_b64encode(bytes.fromhex(stable_id(
            "mailgun", event.message_id, event.type, event.bounce, event.recipient,
            event.at.isoformat()))).decode("ascii").rstrip("="),
        "timestamp": event.at.timestamp(),
        "log-level": "error" if name == "failed" else "info",
        "recipient": event.recipient,
        "recipient-domain": event.recipient.rpartition("@")[2],
        "message": {"headers": {
            "message-id": event.message_id.strip("<>"), "to": event.recipient,
        }},
        "tags": [],
        "user-variables": {"email_id": event.email_id},
    }
    if qualifier is not None:
        severity, reason, code, description = _FAILURES[qualifier]
        data["severity"] = severity
        data["reason"] = reason
        data["delivery-status"] = {
            "code": code, "description": event.detail or description, "message": "",
            "attempt-no": 1,
        }
    elif name == "delivered":
        data["delivery-status"] = {"code": 250, "description": "", "message": "OK"}
    elif name == "clicked":
        data["url"] = event.detail or "https://example.com/"
    return data


__all__ = ["event_data", "signed_request"]
