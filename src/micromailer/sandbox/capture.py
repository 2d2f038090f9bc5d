"""The state of one fake provider: accepted messages (bounded), counters, faults and ids."""

from __future__ import annotations

import base64
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from micromailer.sandbox.faults import FaultInjector

#: Accepted messages kept per provider; older ones are dropped first.
DEFAULT_CAPACITY = 10_000

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One accepted recipient of one send request, as the fake received it."""

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

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "to": self.to,
            "toName": self.to_name,
            "fromEmail": self.from_email,
            "fromName": self.from_name,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "metadata": self.metadata,
            "receivedAt": self.received_at.isoformat(),
        }


class Capture:
    """Accepted messages, newest last, and the accepted/rejected counters.

    Counts are per recipient: an accepted recipient adds one to ``accepted``; a refused
    recipient, or a request refused as a whole (injected fault, bad key, invalid body), adds
    one to ``rejected``.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._messages: deque[CapturedMessage] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected = 0

    def record(self, message: CapturedMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self.accepted += 1

    def count_rejected(self, n: int = 1) -> None:
        with self._lock:
            self.rejected += n

    def messages(self) -> list[CapturedMessage]:
        with self._lock:
            return list(self._messages)

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
    capture: Capture = field(init=False)
    faults: FaultInjector = field(init=False)

    def __post_init__(self) -> None:
        self.capture = Capture(self.capacity)
        self.faults = FaultInjector(self.rng)

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
    "CapturedMessage",
    "Clock",
    "ProviderState",
    "utc_now",
]
