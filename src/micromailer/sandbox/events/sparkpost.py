"""The fake SparkPost's events: one batch, a JSON array of ``{"msys": {"<class>_event": …}}``,
POSTed with the Basic credentials the sandbox's webhook is configured with."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import event_id, stable_id
from micromailer.webhooks.credentials import basic_header
from micromailer.webhooks.sparkpost import SANDBOX_PASSWORD, SANDBOX_USERNAME

#: Sandbox event → SparkPost's event class and type.
EVENT_TYPES: dict[EventType, tuple[str, str]] = {
    EventType.DELIVERED: ("message_event", "delivery"),
    EventType.BOUNCED: ("message_event", "bounce"),
    EventType.DEFERRED: ("message_event", "delay"),
    EventType.DROPPED: ("message_event", "policy_rejection"),
    EventType.COMPLAINED: ("message_event", "spam_complaint"),
    EventType.OPENED: ("track_event", "open"),
    EventType.CLICKED: ("track_event", "click"),
    EventType.UNSUBSCRIBED: ("unsubscribe_event", "list_unsubscribe"),
    EventType.UNKNOWN: ("message_event", "injection"),
}
#: The bounce class a sandbox bounce carries: Invalid Recipient, or Mailbox Full.
BOUNCE_CLASSES = {BounceKind.HARD: "10", BounceKind.SOFT: "22"}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime
                   ) -> SignedRequest:
    """A SparkPost batch carrying ``events``, with the sandbox's Basic credentials."""
    batch = [{"msys": {EVENT_TYPES[event.type][0]: record(event)}} for event in events]
    return SignedRequest(
        url=webhook_url,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "SparkPost",
            "Authorization": basic_header(SANDBOX_USERNAME, SANDBOX_PASSWORD),
            "X-MessageSystems-Batch-ID": stable_id(*(event_id("sparkpost", e) for e in events),
                                                   now.isoformat()),
        },
        body=json.dumps(batch).encode(),
    )


def record(event: SandboxEvent) -> dict[str, Any]:
    """SparkPost's record of one event (the fields of its message event samples), with the
    email id in ``rcpt_meta`` as the transmission's metadata arrives there."""
    kind = EVENT_TYPES[event.type][1]
    fields: dict[str, Any] = {
        "type": kind,
        "event_id": str(int(event_id("sparkpost", event, 15), 16)),
        "timestamp": str(int(event.at.timestamp())),
        "transmission_id": event.message_id,
        "message_id": event_id("sparkpost-message", event, 20),
        "customer_id": "1",
        "rcpt_to": event.recipient.lower(),
        "raw_rcpt_to": event.recipient,
        "rcpt_meta": {"email_id": event.email_id},
        "rcpt_tags": [],
        "friendly_from": "sandbox@micromailer.test",
    }
    if event.type is EventType.BOUNCED:
        hard = event.bounce is not BounceKind.SOFT
        fields["bounce_class"] = BOUNCE_CLASSES[BounceKind.HARD if hard else BounceKind.SOFT]
        fields["error_code"] = "550" if hard else "452"
        fields["raw_reason"] = event.detail or (
            "550 5.1.1 <recipient>: Recipient address rejected: User unknown" if hard
            else "452 4.2.2 Mailbox full")
    elif event.type is EventType.DEFERRED:
        fields["bounce_class"] = "21"
        fields["raw_reason"] = event.detail or "421 4.4.1 try again later"
    elif event.type is EventType.DROPPED:
        fields["raw_reason"] = event.detail or "550 5.0.0 Message generation rejected"
    elif event.type is EventType.COMPLAINED:
        fields["fbtype"] = "abuse"
    elif event.type is EventType.CLICKED:
        fields["target_link_url"] = event.detail or "https://example.com/"
    return fields


__all__ = ["BOUNCE_CLASSES", "EVENT_TYPES", "record", "signed_request"]
