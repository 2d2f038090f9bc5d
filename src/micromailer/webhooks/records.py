"""Reading the providers' event records: JSON within bounds, times, stable ids, short details,
and the lookups of the mapping tables every provider's webhook module keeps."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from micromailer.domain.events import BounceKind, EventType
from micromailer.webhooks.base import Malformed

#: Most events one request may carry (Mandrill documents batches of up to 1,000).
MAX_EVENTS = 1000
#: Longest ``detail`` kept from a provider's text.
DETAIL_CHARS = 300

#: What a provider's event becomes: micromailer's type and, for a bounce, its kind.
Outcome = tuple[EventType, BounceKind | None]
UNKNOWN: Outcome = (EventType.UNKNOWN, None)

Key = TypeVar("Key")


def json_document(body: bytes) -> Any:
    """The body as JSON; ``ValueError`` when it is not (nesting too deep counts as not)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def event_list(value: Any, provider: str) -> list[dict[str, Any]]:
    """A provider's batch: a JSON array of at most :data:`MAX_EVENTS` objects, else
    :class:`Malformed` saying what is wrong."""
    if not isinstance(value, list):
        raise Malformed(f"{provider}'s events must be a JSON array of event objects")
    if len(value) > MAX_EVENTS:
        raise Malformed(
            f"{len(value)} events in one request; at most {MAX_EVENTS} are taken: send them in "
            "smaller batches"
        )
    if not all(isinstance(item, dict) for item in value):
        raise Malformed(f"each of {provider}'s events must be a JSON object")
    return value


def unix_time(value: Any, name: str) -> datetime:
    """A Unix time (a number, or a string of one) as an aware UTC datetime; else
    :class:`Malformed` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Malformed(f"{name} must be a Unix time in seconds")
    try:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(name)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed(f"{name} must be a Unix time in seconds") from None


def iso_time(value: Any, name: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (a time without offset counts as UTC); else
    :class:`Malformed` naming ``name``."""
    if not isinstance(value, str):
        raise Malformed(f"{name} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"{name} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def content_id(record: Mapping[str, Any]) -> str:
    """An id for an event its provider gives none: the SHA-256 of its canonical JSON, the same
    each time the provider resends the same record."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def field(record: Any, *path: str) -> Any:
    """The value at ``path`` in nested JSON objects; ``None`` when a step is missing or is not
    an object."""
    value = record
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def text(value: Any) -> str | None:
    """A JSON string or integer as text (metadata may come back as numbers); else ``None``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def short(*parts: Any) -> str | None:
    """The non-empty texts among ``parts``, joined and trimmed to :data:`DETAIL_CHARS`."""
    words = [" ".join(str(part).split()) for part in parts if text(part)]
    joined = ": ".join(word for word in words if word)
    if not joined:
        return None
    return joined if len(joined) <= DETAIL_CHARS else joined[: DETAIL_CHARS - 1] + "…"


def outcome(table: Mapping[Key, Outcome], key: Key) -> Outcome:
    """What ``key`` maps to in a provider's table; :data:`UNKNOWN` when it is not listed."""
    return table.get(key, UNKNOWN)


def first_key(table: Mapping[Key, Outcome], wanted: Outcome, provider: str) -> Key:
    """The first of a provider's records that maps to ``wanted``: how that provider reports it
    (the sandbox's fakes build their events with it)."""
    for key, value in table.items():
        if value == wanted:
            return key
    kind = f"{wanted[0]} ({wanted[1]})" if wanted[1] else str(wanted[0])
    raise ValueError(f"{provider} reports no event that means {kind}")


__all__ = [
    "DETAIL_CHARS",
    "MAX_EVENTS",
    "UNKNOWN",
    "Outcome",
    "content_id",
    "event_list",
    "field",
    "first_key",
    "iso_time",
    "json_document",
    "outcome",
    "short",
    "text",
    "unix_time",
]
