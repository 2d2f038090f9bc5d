"""Mailgun's webhook: one event per request, JSON ``{"signature": {timestamp, token,
signature}, "event-data": {...}}``, signed by hex HMAC-SHA256 of timestamp + token with the
webhook signing key (CONTRACTS.md section 3, "Webhooks").

A replay is refused twice over: a timestamp outside the window, and a token this process has
already seen within it (:class:`SeenTokens`). Across processes, de-duplication on the event's
stable id keeps a replayed event once.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import REPLAY_WINDOW_SECONDS, Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import detail, event_key, instant, load_json, raw_key, text
from micromailer.webhooks.tables import Outcome, field, outcome

PROVIDER = "mailgun"

#: The sandbox's webhook signing key. Public (it is in this repository) and for the sandbox
#: only: events it verifies may move only the sandbox's emails.
SANDBOX_SIGNING_KEY = "micromailer-sandbox-mailgun-signing-key"

#: Tokens one process remembers; past it, the oldest are forgotten before their window ends.
TOKEN_MEMORY = 10_000

#: Mailgun's ``event`` (with, for ``failed``, its ``severity``, or ``suppressed`` when its
#: ``reason`` is ``suppress-…``: Mailgun did not try) → micromailer's type and bounce kind.
#: The first row of each outcome is how the sandbox's fake reports it.
EVENTS: dict[tuple[str, str | None], Outcome] = {
    ("delivered", None): (EventType.DELIVERED, None),
    ("failed", "permanent"): (EventType.BOUNCED, BounceKind.HARD),
    # Mailgun retries a temporary failure: the message is delayed, not refused.
    ("failed", "temporary"): (EventType.DEFERRED, None),
    ("failed", "suppressed"): (EventType.DROPPED, None),
    ("rejected", None): (EventType.DROPPED, None),
    ("complained", None): (EventType.COMPLAINED, None),
    ("opened", None): (EventType.OPENED, None),
    ("clicked", None): (EventType.CLICKED, None),
    ("unsubscribed", None): (EventType.UNSUBSCRIBED, None),
    # Accepted by Mailgun (micromailer already says ``sent``); stored for later retrieval.
    ("accepted", None): (EventType.UNKNOWN, None),
    ("stored", None): (EventType.UNKNOWN, None),
}


class SeenTokens:
    """The tokens of recently verified requests, each until its timestamp leaves the replay
    window, at most ``capacity`` of them. Safe across threads."""

    def __init__(self, capacity: int = TOKEN_MEMORY) -> None:
        self._capacity = capacity
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, token: str, expires: float, now: float) -> bool:
        """Remembers ``token`` until ``expires``; ``False`` when it is already remembered."""
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) < now:
                self._expiry.popitem(last=False)
            if token in self._expiry:
                return False
            self._expiry[token] = expires
            while len(self._expiry) > self._capacity:
                self._expiry.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._expiry)


class MailgunWebhook:
    """Verifies Mailgun's signature with the webhook signing key, refuses replays, and reads
    the event."""

    provider = PROVIDER

    def __init__(
        self, signing_key: str, *, replay_window: float = REPLAY_WINDOW_SECONDS,
        tokens: SeenTokens | None = None,
    ) -> None:
        self._key = signing_key.encode("utf-8")
        self._window = replay_window
        self._tokens = tokens if tokens is not None else SeenTokens()

    def __repr__(self) -> str:
        return f"MailgunWebhook(remembered_tokens={len(self._tokens)})"

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        try:
            document = load_json(request.body)
        except Malformed:
            # The signature is inside the body: one that is no JSON is unverifiable.
            document = None
        self.verify(document, now)
        data = document.get("event-data")
        if not isinstance(data, dict):
            raise Malformed("no event-data object beside the signature")
        return [parse_event(data, now)]

    def verify(self, document: Any, now: datetime) -> None:
        """Raises :class:`Unverified` unless ``document`` is signed by Mailgun, recently, and
        its token is new."""
        signature = field(document, "signature")
        timestamp, token, given = (
            _text(field(signature, name)) for name in ("timestamp", "token", "signature")
        )
        if timestamp is None or token is None or given is None:
            raise Unverified(
                "no signature object with timestamp, token and signature: Mailgun's JSON "
                "webhooks send one (the legacy form webhooks are not taken)"
            )
        expected = sign(self._key, timestamp, token)
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
            raise Unverified("the signature is not Mailgun's for this timestamp and token")
        if not timestamp.isdigit():
            raise Unverified("the signed timestamp is not a Unix time")
        age = now.timestamp() - int(timestamp)
        if abs(age) > self._window:
            raise Unverified(
                f"signed {age:.0f} s from now, outside the {self._window:.0f} s window: a "
                "replay, or a clock that is off"
            )
        if not self._tokens.first_use(token, int(timestamp) + self._window, now.timestamp()):
            raise Unverified("this token was already used: a replay")


def sign(key: bytes, timestamp: str, token: str) -> str:
    """Mailgun's signature: hex HMAC-SHA256 of timestamp + token."""
    return hmac.new(key, (timestamp + token).encode("utf-8"), hashlib.sha256).hexdigest()


def parse_event(data: dict[str, Any], now: datetime) -> ProviderEvent:
    """One Mailgun ``event-data`` object in micromailer's vocabulary (``now`` when it has no
    time)."""
    name = text(data.get("event")) or "unknown"
    qualifier = None
    if name == "failed":
        reason = text(data.get("reason")) or ""
        severity = (text(data.get("severity")) or "").lower()
        qualifier = "suppressed" if reason.startswith("suppress-") else severity
    event_type, bounce = outcome(EVENTS, (name, qualifier))
    own_id = text(data.get("id"))
    return ProviderEvent(
        provider=PROVIDER,
        type=event_type,
        at=instant(data.get("timestamp")) or now,
        # Mailgun's id is unique within a day; with the event's own time, for good.
        event_id=event_key(f"{own_id}:{data.get('timestamp')}" if own_id else raw_key(data)),
        email_id=text(field(data, "user-variables", "email_id")),
        message_id=message_id(text(field(data, "message", "headers", "message-id"))),
        recipient=text(data.get("recipient")),
        bounce=bounce,
        detail=detail(f"{name} ({qualifier})" if qualifier else name, _reason(data)),
        raw=data,
    )


def message_id(header: str | None) -> str | None:
    """The id as the adapter recorded it from Mailgun's answer (``<…>``), from the event's
    ``message-id`` header (Mailgun gives it without the angle brackets)."""
    if not header:
        return None
    header = header.strip()
    return header if header.startswith("<") else f"<{header}>"


def _reason(data: dict[str, Any]) -> str | None:
    status = data.get("delivery-status")
    return (
        text(field(status, "description")) or text(field(status, "message"))
        or text(field(data, "reject", "reason")) or text(data.get("url"))
        or text(data.get("reason"))
    )


def _text(value: Any) -> str | None:
    """A signature field as text: Mailgun writes the timestamp as digits, maybe as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value)


def real(settings: Settings) -> MailgunWebhook | None:
    """The scheme for ``MAILGUN_WEBHOOK_SIGNING_KEY``; ``None`` when it is not set."""
    key = settings.mailgun_webhook_signing_key
    if key is None or not key.get_secret_value():
        return None
    return MailgunWebhook(key.get_secret_value())


def sandbox() -> MailgunWebhook:
    """The scheme for the events the sandbox's fake signs."""
    return MailgunWebhook(SANDBOX_SIGNING_KEY)


__all__ = [
    "EVENTS",
    "PROVIDER",
    "SANDBOX_SIGNING_KEY",
    "TOKEN_MEMORY",
    "MailgunWebhook",
    "SeenTokens",
    "message_id",
    "parse_event",
    "real",
    "sandbox",
    "sign",
]
