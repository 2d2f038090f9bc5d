"""Reading a provider's event records, the same way for every provider: a bounded JSON body,
event times as aware UTC, event ids that stay the same when the provider resends, short
details."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from micromailer.webhooks.base import Malformed

#: Most events one request may carry; a body with more is refused.
MAX_EVENTS = 1000
#: Largest body read, in bytes; providers send far less (SNS: 256 KiB; a batch: a few MB).
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Longest ``event_id`` kept (the store's key column); a longer one is replaced by its hash.
MAX_EVENT_ID = 255
#: Longest ``detail`` kept, in characters.
MAX_DETAIL = 300
#: Epoch values above this are milliseconds, not seconds (it is the year 5138 in seconds).
_MILLISECONDS_FROM = 100_000_000_000


def load_json(body: bytes) -> Any:
    """The body as JSON; :class:`Malformed` when it is too large or not JSON."""
    if len(body) > MAX_BODY_BYTES:
        raise Malformed(f"the body holds {len(body)} bytes; at most {MAX_BODY_BYTES} are read")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # too deep is not JSON either
        raise Malformed("the body is not JSON") from None


def bounded(items: Sequence[Any], what: str = "events") -> Sequence[Any]:
    """``items``, unless there are more than :data:`MAX_EVENTS` of them (:class:`Malformed`)."""
    if len(items) > MAX_EVENTS:
        raise Malformed(f"the body carries {len(items)} {what}; at most {MAX_EVENTS} are taken")
    return items


def instant(value: Any) -> datetime | None:
    """An event time as aware UTC: ISO 8601 text (``Z`` or an offset; no offset is UTC), or
    Unix seconds or milliseconds as a number or digits; ``None`` when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def raw_key(raw: Mapping[str, Any]) -> str:
    """An id for an event its provider gives no id: the hash of its record, which a resend
    repeats word for word."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def event_key(base: str, recipient: str | None = None) -> str:
    """``base`` (the provider's id of a record), with ``recipient`` when one record is about
    several recipients; hashed when longer than :data:`MAX_EVENT_ID`."""
    key = f"{base}/{recipient}" if recipient is not None else base
    if len(key) <= MAX_EVENT_ID:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def detail(name: str, text: Any = None) -> str:
    """``"<provider's event name>: <its text>"`` (a reason, a link), cut to :data:`MAX_DETAIL`
    characters; the name alone when there is no text."""
    words = " ".join(str(text).split()) if text not in (None, "") else ""
    sentence = f"{name}: {words}" if words else name
    return sentence if len(sentence) <= MAX_DETAIL else sentence[: MAX_DETAIL - 1] + "…"


def text(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DETAIL",
    "MAX_EVENTS",
    "MAX_EVENT_ID",
    "bounded",
    "detail",
    "event_key",
    "instant",
    "load_json",
    "mapping",
    "raw_key",
    "text",
]
