"""The state of one fake provider: accepted messages (bounded), counters, faults and ids, and
the events sent back about each message."""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from micromailer.sandbox.faults import FaultInjector, FaultSettings

log = logging.getLogger(__name__)

#: Accepted messages kept per provider; older ones are dropped first.
DEFAULT_CAPACITY = 10_000

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CapturedAttachment:
    """A file as a fake received it, decoded."""

    filename: str
    content_type: str | None
    content: bytes
    #: Set for an inline image.
    content_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "contentType": self.content_type,
            "contentId": self.content_id,
            "size": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "content": base64.b64encode(self.content).decode("ascii"),
        }


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event a fake sent back about a captured message, and what the webhook answered."""

    type: str
    at: datetime
    #: The webhook's HTTP status; ``None`` when it could not be reached (or signing failed).
    status: int | None
    tries: int
    bounce: str | None = None
    #: Why the event did not get a 2xx, in a few words.
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "bounce": self.bounce,
            "at": self.at.isoformat(),
            "status": self.status,
            "tries": self.tries,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One accepted recipient of one send request, as the fake received it, with what the
    request said of the whole message (its other recipients, attachments, headers…)."""

    message_id: str
    to: str
    to_name: str | None
    from_email: str | None
    from_name: str | None
    subject: str | None
    html: str | None
    text: str | None
    metadata: dict[str, Any]
    received_at: datetime
    #: How the request addressed this recipient: ``to``, ``cc`` or ``bcc``.
    addressed_as: str = "to"
    #: The message's recipients by field, as ``"Name <addr>"`` or bare addresses.
    to_all: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    attachments: tuple[CapturedAttachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    #: The events sent back so far, oldest first; written under :class:`Capture`'s lock.
    events: list[SentEvent] = field(default_factory=list, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "to": self.to,
            "toName": self.to_name,
            "field": self.addressed_as,
            "fromEmail": self.from_email,
            "fromName": self.from_name,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "metadata": self.metadata,
            "toAll": list(self.to_all),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "replyTo": list(self.reply_to),
            "attachments": [item.to_json() for item in self.attachments],
            "headers": self.headers,
            "tags": list(self.tags),
            "receivedAt": self.received_at.isoformat(),
        }


class EventOutbox(Protocol):
    """Where a fake's accepted messages go to have their events sent back
    (``sandbox/event_sender.py``)."""

    def schedule(
        self, provider: str, message: CapturedMessage, report: Callable[[SentEvent], None]
    ) -> None:
        """Plan ``message``'s events; call ``report`` as each is sent. Never blocks."""
        ...


class Capture:
    """Accepted messages, newest last, and the accepted/rejected counters.

    Counts are per recipient: an accepted recipient adds one to ``accepted``; a refused
    recipient, or a request refused as a whole (injected fault, bad key, invalid body), adds
    one to ``rejected``. ``on_record`` is told of each accepted message, after it is kept.
    """

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        on_record: Callable[[CapturedMessage], None] | None = None,
    ) -> None:
        self._messages: deque[CapturedMessage] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._on_record = on_record
        self.accepted = 0
        self.rejected = 0

    def record(self, message: CapturedMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self.accepted += 1
        if self._on_record is not None:
            self._on_record(message)

    def note_event(self, message: CapturedMessage, event: SentEvent) -> None:
        """Add an event sent back about ``message`` to its record."""
        with self._lock:
            message.events.append(event)

    def count_rejected(self, n: int = 1) -> None:
        with self._lock:
            self.rejected += n

    def messages(self) -> list[CapturedMessage]:
        with self._lock:
            return list(self._messages)

    def messages_json(self) -> list[dict[str, Any]]:
        """Every message as ``GET /_sandbox/{provider}/messages`` shows it, with its events."""
        with self._lock:
            kept = [(message, tuple(message.events)) for message in self._messages]
        return [
            {**message.to_json(), "events": [event.to_json() for event in events]}
            for message, events in kept
        ]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"accepted": self.accepted, "rejected": self.rejected}

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.accepted = 0
            self.rejected = 0


@dataclass
class ProviderState:
    """Everything one fake provider keeps between requests."""

    name: str
    #: The key the fake accepts; ``None`` accepts any non-empty key.
    api_key: str | None
    rng: random.Random
    clock: Clock = utc_now
    capacity: int = DEFAULT_CAPACITY
    #: Sends each accepted message's events back; ``None``: the fake sends none.
    outbox: EventOutbox | None = None
    capture: Capture = field(init=False)
    faults: FaultInjector = field(init=False)

    def __post_init__(self) -> None:
        self.capture = Capture(
            self.capacity, on_record=self._send_events if self.outbox is not None else None
        )
        self.faults = FaultInjector(self.rng)

    def _send_events(self, message: CapturedMessage) -> None:
        """Hand ``message`` to the outbox; whatever goes wrong there, the send stays accepted."""
        if self.outbox is None:
            return
        capture = self.capture
        try:
            self.outbox.schedule(
                self.name, message, lambda event: capture.note_event(message, event)
            )
        except Exception:  # the fake has accepted the message: its answer must not change
            log.exception("the %s fake's events about message %s are not sent", self.name,
                          message.message_id)

    async def injected_fault(self) -> FaultSettings | None:
        """Wait the injected latency, then roll the dice: the fault settings when this send
        must fail (counted as rejected), ``None`` when it goes through."""
        await self.faults.delay()
        fault = self.faults.roll()
        if fault is not None:
            self.capture.count_rejected()
        return fault

    def key_matches(self, key: str | None) -> bool:
        if not key:
            return False
        return self.api_key is None or key == self.api_key

    def hex_id(self) -> str:
        """32 hex digits, like Mandrill's ``_id``."""
        return f"{self.rng.getrandbits(128):032x}"

    def token_id(self) -> str:
        """22 URL-safe characters, like SendGrid's ``X-Message-Id``."""
        raw = self.rng.getrandbits(128).to_bytes(16, "big")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def reset(self) -> None:
        """Forget messages and counters, and clear the faults."""
        self.capture.reset()
        self.faults.clear()


__all__ = [
    "DEFAULT_CAPACITY",
    "Capture",
    "CapturedAttachment",
    "CapturedMessage",
    "Clock",
    "EventOutbox",
    "ProviderState",
    "SentEvent",
    "utc_now",
]
