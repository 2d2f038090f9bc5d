"""The fake Mandrill's events: a form whose ``mandrill_events`` field is a JSON array of
Mandrill event records, signed as Mandrill signs (``X-Mandrill-Signature``) with the sandbox's
webhook key over the URL it posts to."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.webhooks.mandrill import (
    EVENTS,
    EVENTS_FIELD,
    SANDBOX_WEBHOOK_KEY,
    SIGNATURE_HEADER,
    sign,
)
from micromailer.webhooks.tables import first_key

#: The message state Mandrill shows in ``msg.state`` after each event.
_STATES = {
    "delivered": "sent", "deferral": "deferred", "hard_bounce": "bounced",
    "soft_bounce": "soft-bounced", "reject": "rejected",
}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime) -> SignedRequest:
    """One POST carrying ``events``, as Mandrill sends its batches (``now`` goes unused:
    Mandrill signs no time)."""
    params = {EVENTS_FIELD: json.dumps([record(event) for event in events])}
    signature = sign(SANDBOX_WEBHOOK_KEY.encode("utf-8"), webhook_url, params)
    return SignedRequest(
        url=webhook_url,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: signature,
        },
        body=urlencode(params).encode("ascii"),
    )


def record(event: SandboxEvent) -> dict[str, Any]:
    """``event`` as Mandrill's record of it, ``email_id`` echoed from the send's metadata."""
    name = first_key(EVENTS, (event.type, event.bounce), "Mandrill")
    ts = int(event.at.timestamp())
    msg: dict[str, Any] = {
        "ts": ts,
        "_id": event.message_id,
        "email": event.recipient,
        "state": _STATES.get(name, "sent"),
        "metadata": {"email_id": event.email_id},
        "tags": [],
        "opens": [],
        "clicks": [],
    }
    entry: dict[str, Any] = {"event": name, "_id": event.message_id, "ts": ts, "msg": msg}
    if name in ("hard_bounce", "soft_bounce"):
        msg["bounce_description"] = "bad_mailbox" if name == "hard_bounce" else "mailbox_full"
        msg["diag"] = event.detail or (
            "smtp;550 5.1.1 The email account that you tried to reach does not exist."
            if name == "hard_bounce" else "smtp;452 4.2.2 Mailbox full"
        )
    elif name == "deferral":
        msg["smtp_events"] = [{"diag": event.detail or "451 4.3.5 Temporarily unavailable"}]
    elif name == "click":
        entry["url"] = event.detail or "https://example.com/"
    return entry


__all__ = ["record", "signed_request"]
