"""Helpers of the provider webhook tests: requests as the service receives them, and the
sandbox's events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.webhooks.base import WebhookRequest

#: When the tests' requests are received.
NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
WEBHOOK_URL = "https://mail.example.com/webhooks/{provider}"


def received(
    body: bytes, headers: Mapping[str, str] | None = None, url: str = "https://mail.example.com/"
) -> WebhookRequest:
    """A request as the route hands it over: header names in lower case."""
    return WebhookRequest(
        url=url, headers={name.lower(): value for name, value in (headers or {}).items()},
        body=body,
    )


def from_signed(signed: SignedRequest) -> WebhookRequest:
    """What the service receives when a sandbox fake sends ``signed``."""
    return received(signed.body, signed.headers, signed.url)


def sandbox_events(message_id: str) -> list[SandboxEvent]:
    """What the sandbox's fakes report at least: a delivery, a hard bounce, a complaint."""
    return [
        SandboxEvent(EventType.DELIVERED, "email-1", message_id, "alice@example.com", NOW),
        SandboxEvent(
            EventType.BOUNCED, "email-2", message_id, "bounce@simulator.micromailer.test", NOW,
            bounce=BounceKind.HARD, detail="550 5.1.1 no such mailbox",
        ),
        SandboxEvent(
            EventType.COMPLAINED, "email-3", message_id, "complain@simulator.micromailer.test",
            NOW,
        ),
    ]


__all__ = ["NOW", "WEBHOOK_URL", "from_signed", "received", "sandbox_events"]
