"""A provider's mapping table (its event → micromailer's type and bounce kind), read both ways:
a webhook looks its events up, the sandbox's fake finds how its provider reports an event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from micromailer.domain.events import BounceKind, EventType

#: What a provider's event becomes: micromailer's type and, for a bounce, its kind.
Outcome = tuple[EventType, BounceKind | None]
UNKNOWN: Outcome = (EventType.UNKNOWN, None)

Key = TypeVar("Key")


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


def field(record: Any, *path: str) -> Any:
    """The value at ``path`` in nested JSON objects; ``None`` when a step is missing or is not
    an object."""
    value = record
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


__all__ = ["UNKNOWN", "Outcome", "field", "first_key", "outcome"]
