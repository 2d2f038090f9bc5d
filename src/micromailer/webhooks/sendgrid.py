"""SendGrid's signed Event Webhook: an ECDSA P-256 signature over the timestamp and the raw
body, which is a JSON array of events (CONTRACTS.md section 1, "Event Webhook")."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import REPLAY_WINDOW_SECONDS, Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import (
    bounded,
    detail,
    event_key,
    instant,
    load_json,
    raw_key,
    text,
)
from micromailer.webhooks.sendgrid_key import load_public_key
from micromailer.webhooks.tables import Outcome, outcome

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: The sandbox's signing key, as a P-256 private value. Public (it is in this repository) and
#: for the sandbox only: events it verifies may move only the sandbox's emails.
SANDBOX_PRIVATE_VALUE = int.from_bytes(b"micromailer sandbox: sendgrid", "big")

#: SendGrid's event (with, for a bounce, its ``type``) → micromailer's type and bounce kind.
#: The first row of each outcome is how the sandbox's fake reports it.
EVENTS: dict[tuple[str, str | None], Outcome] = {
    ("delivered", None): (EventType.DELIVERED, None),
    ("deferred", None): (EventType.DEFERRED, None),
    # ``type: bounce``: refused for good; ``type: blocked``: refused for now (SendGrid's
    # "Blocked" row of its delivery events).
    ("bounce", "bounce"): (EventType.BOUNCED, BounceKind.HARD),
    ("bounce", "blocked"): (EventType.BOUNCED, BounceKind.SOFT),
    ("dropped", None): (EventType.DROPPED, None),
    ("spamreport", None): (EventType.COMPLAINED, None),
    ("open", None): (EventType.OPENED, None),
    ("click", None): (EventType.CLICKED, None),
    ("unsubscribe", None): (EventType.UNSUBSCRIBED, None),
    ("group_unsubscribe", None): (EventType.UNSUBSCRIBED, None),
    # Accepted by SendGrid (micromailer already says ``sent``); a recipient back in a group.
    ("processed", None): (EventType.UNKNOWN, None),
    ("group_resubscribe", None): (EventType.UNKNOWN, None),
}

#: What follows the ``X-Message-Id`` in an ``sg_message_id`` (``<id>.filterdrecv-…``,
#: ``<id>.recvd-…``); without one, the id ends at its first dot.
_SUFFIXES = (".filter", ".recvd")


class SendGridWebhook:
    """Verifies SendGrid's signature with its public key and reads its events."""

    provider = PROVIDER

    def __init__(
        self, public_key: ec.EllipticCurvePublicKey,
        *, replay_window: float = REPLAY_WINDOW_SECONDS,
    ) -> None:
        self._key = public_key
        self._window = replay_window

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        self.verify(request, now)
        batch = load_json(request.body)
        if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
            raise Malformed("the body is not a SendGrid batch (a JSON array of event objects)")
        return [parse_event(record, now) for record in bounded(batch)]

    def verify(self, request: WebhookRequest, now: datetime) -> None:
        """Raises :class:`Unverified` unless the signature is SendGrid's and fresh."""
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        timestamp = request.headers.get(TIMESTAMP_HEADER.lower())
        if not signature or not timestamp:
            raise Unverified(f"no {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
        if not timestamp.isdigit():
            raise Unverified(f"{TIMESTAMP_HEADER} is not a Unix time")
        age = now.timestamp() - int(timestamp)
        if abs(age) > self._window:
            raise Unverified(
                f"signed {age:.0f} s from now, outside the {self._window:.0f} s window: a "
                "replay, or a clock that is off"
            )
        try:
            self._key.verify(
                base64.b64decode(signature, validate=True),
                timestamp.encode("ascii") + request.body,
                ec.ECDSA(hashes.SHA256()),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            raise Unverified("the signature is not SendGrid's for this body") from None


def parse_event(record: dict[str, Any], now: datetime) -> ProviderEvent:
    """One SendGrid event record in micromailer's vocabulary (``now`` when it has no time)."""
    name = text(record.get("event")) or "unknown"
    kind = (text(record.get("type")) or "bounce") if name == "bounce" else None
    event_type, bounce = outcome(EVENTS, (name, kind))
    return ProviderEvent(
        provider=PROVIDER,
        type=event_type,
        at=instant(record.get("timestamp")) or now,
        event_id=event_key(text(record.get("sg_event_id")) or raw_key(record)),
        email_id=text(record.get("email_id")),
        message_id=message_id(text(record.get("sg_message_id"))),
        recipient=text(record.get("email")),
        bounce=bounce,
        detail=detail(
            f"{name} ({kind})" if kind and kind != name else name,
            record.get("reason") or record.get("response") or record.get("url"),
        ),
        raw=record,
    )


def message_id(sg_message_id: str | None) -> str | None:
    """The ``X-Message-Id`` the adapter recorded, from an event's ``sg_message_id``."""
    if not sg_message_id:
        return None
    for suffix in _SUFFIXES:
        if suffix in sg_message_id:
            return sg_message_id.split(suffix, 1)[0] or None
    return sg_message_id.split(".", 1)[0] or None


def sandbox_private_key() -> ec.EllipticCurvePrivateKey:
    """The key the sandbox's fake signs its events with (public: sandbox only)."""
    return ec.derive_private_key(SANDBOX_PRIVATE_VALUE, ec.SECP256R1())


def real(settings: Settings) -> SendGridWebhook | None:
    """The scheme for ``SENDGRID_WEBHOOK_PUBLIC_KEY``; ``None`` when it is not set."""
    value = settings.sendgrid_webhook_public_key
    if value is None or not value.get_secret_value().strip():
        return None
    return SendGridWebhook(load_public_key(value.get_secret_value()))


def sandbox() -> SendGridWebhook:
    """The scheme for the events the sandbox's fake signs."""
    return SendGridWebhook(sandbox_private_key().public_key())


__all__ = [
    "EVENTS",
    "PROVIDER",
    "SANDBOX_PRIVATE_VALUE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SendGridWebhook",
    "message_id",
    "parse_event",
    "real",
    "sandbox",
    "sandbox_private_key",
]
