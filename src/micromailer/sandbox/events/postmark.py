"""The fake Postmark's events: one JSON record per request, with the sandbox's basic-auth
credentials in the webhook's URL, as Postmark's webhook settings put them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import stable_id
from micromailer.webhooks.credentials import basic_header
from micromailer.webhooks.postmark import EVENTS, SANDBOX_PASSWORD, SANDBOX_USERNAME
from micromailer.webhooks.tables import first_key

#: Postmark's ``TypeCode`` and ``Name`` of each bounce ``Type`` (its bounce API's table).
BOUNCE_TYPES: dict[str, tuple[int, str]] = {
    "HardBounce": (1, "Hard bounce"), "Transient": (2, "Message delayed"),
    "Unsubscribe": (16, "Unsubscribe request"), "Subscribe": (32, "Subscribe request"),
    "AutoResponder": (64, "Auto responder"), "AddressChange": (128, "Address change"),
    "DnsError": (256, "DNS error"), "SpamNotification": (512, "Spam notification"),
    "OpenRelayTest": (1024, "Open relay test"), "Unknown": (2048, "Unknown"),
    "SoftBounce": (4096, "Soft bounce"), "VirusNotification": (8192, "Virus notification"),
    "ChallengeVerification": (16384, "Spam challenge verification"),
    "BadEmailAddress": (100000, "Invalid email address"),
    "SpamComplaint": (100001, "Spam complaint"),
    "ManuallyDeactivated": (100002, "Manually deactivated"),
    "Unconfirmed": (100003, "Registration not confirmed"), "Blocked": (100006, "ISP block"),
    "SMTPApiError": (100007, "SMTP API error"), "InboundError": (100008, "Processing failed"),
    "DMARCPolicy": (100009, "DMARC Policy"),
    "TemplateRenderingFailed": (100010, "Template rendering failed"),
}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime) -> SignedRequest:
    """The POST carrying ``events``' one event: Postmark sends one event per request, its
    credentials in the URL (which an HTTP client turns into the ``Authorization`` header, also
    given here); ``now`` goes unused: Postmark signs nothing."""
    if len(events) != 1:
        raise ValueError(f"Postmark sends one event per request, not {len(events)}: sign each")
    return SignedRequest(
        url=_with_credentials(webhook_url),
        headers={
            "Content-Type": "application/json",
            "Authorization": basic_header(SANDBOX_USERNAME, SANDBOX_PASSWORD),
        },
        body=json.dumps(record(events[0])).encode("utf-8"),
    )


def record(event: SandboxEvent) -> dict[str, Any]:
    """``event`` as Postmark's record of it, ``email_id`` echoed from the send's Metadata."""
    kind, qualifier = first_key(EVENTS, (event.type, event.bounce), "Postmark")
    at = event.at.isoformat().replace("+00:00", "Z")
    entry: dict[str, Any] = {
        "RecordType": kind, "ServerID": 1, "MessageStream": "outbound",
        "MessageID": event.message_id, "Tag": "", "Metadata": {"email_id": event.email_id},
    }
    if kind in ("Bounce", "SpamComplaint"):
        bounce_type = qualifier or "SpamComplaint"
        code, name = BOUNCE_TYPES[bounce_type]
        entry.update({
            "ID": int(stable_id("postmark", event.message_id, event.type, event.bounce,
                                event.recipient, event.at.isoformat(), length=12), 16),
            "Type": bounce_type, "TypeCode": 512 if kind == "SpamComplaint" else code,
            "Name": name, "Email": event.recipient, "BouncedAt": at,
            "Description": f"{name}.", "Details": event.detail or f"smtp;{name}",
            "Inactive": event.bounce is not None, "CanActivate": True, "DumpAvailable": False,
        })
    elif kind == "SubscriptionChange":
        entry.update({
            "Recipient": event.recipient, "ChangedAt": at, "Origin": "Recipient",
            "SuppressSending": qualifier != "Reactivated",
            "SuppressionReason": None if qualifier == "Reactivated" else qualifier,
        })
    else:
        entry["Recipient"] = event.recipient
        entry["DeliveredAt" if kind == "Delivery" else "ReceivedAt"] = at
        if kind == "Delivery":
            entry["Details"] = event.detail or "smtp;250 2.0.0 OK"
        elif kind == "Click":
            entry["OriginalLink"] = event.detail or "https://example.com/"
    return entry


def _with_credentials(url: str) -> str:
    parts = urlsplit(url)
    userinfo = f"{quote(SANDBOX_USERNAME, safe='')}:{quote(SANDBOX_PASSWORD, safe='')}"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


__all__ = ["BOUNCE_TYPES", "record", "signed_request"]
