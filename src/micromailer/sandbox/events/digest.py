"""A sandbox event's identity: the same bytes each time a fake reports the same event, from
which each fake makes an event id shaped like its provider's."""

from __future__ import annotations

import hashlib

from micromailer.sandbox.events import SandboxEvent


def event_digest(event: SandboxEvent) -> bytes:
    """SHA-256 of everything ``event`` says."""
    parts = (
        event.type, event.email_id, event.message_id, event.recipient, event.at.isoformat(),
        event.bounce or "", event.detail or "",
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


__all__ = ["event_digest"]
