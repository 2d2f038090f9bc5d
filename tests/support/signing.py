"""A sandbox signer for tests: the events as JSON, signed with HMAC-SHA256 over the timestamp
and the body with a secret the test makes, and its check on the receiving side."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from micromailer.sandbox.events import SandboxEvent, SignedRequest, Signer
from tests.support.event_receiver import ReceivedRequest

SIGNATURE_HEADER = "x-test-signature"
TIMESTAMP_HEADER = "x-test-timestamp"


def _mac(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def hmac_signer(secret: bytes) -> Signer:
    """A :data:`~micromailer.sandbox.events.Signer` whose requests :func:`verified` reads."""

    def signed_request(
        events: list[SandboxEvent], webhook_url: str, now: datetime
    ) -> SignedRequest:
        body = json.dumps([
            {"type": str(event.type), "email_id": event.email_id,
             "message_id": event.message_id, "recipient": event.recipient,
             "bounce": str(event.bounce) if event.bounce else None, "detail": event.detail,
             "at": event.at.isoformat()}
            for event in events
        ]).encode()
        timestamp = str(int(now.timestamp()))
        return SignedRequest(
            url=webhook_url,
            headers={"content-type": "application/json", TIMESTAMP_HEADER: timestamp,
                     SIGNATURE_HEADER: _mac(secret, timestamp, body)},
            body=body,
        )

    return signed_request


def verified(request: ReceivedRequest, secret: bytes) -> list[dict[str, Any]]:
    """The events of a request :func:`hmac_signer` signed with ``secret``; fails otherwise."""
    expected = _mac(secret, request.headers[TIMESTAMP_HEADER], request.body)
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected), "bad signature"
    events: list[dict[str, Any]] = json.loads(request.body)
    return events


__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "hmac_signer", "verified"]
