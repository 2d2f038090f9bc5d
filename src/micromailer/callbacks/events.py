"""The events a callback subscribes to: the worker's outcomes and the providers' events."""

from __future__ import annotations

from collections.abc import Iterable

from micromailer.domain.events import EventType
from micromailer.domain.status import Status

#: Every event a callback may ask for, in the order the docs list them: the worker's two
#: outcomes, then every provider event but ``unknown``.
CALLBACK_EVENTS: tuple[str, ...] = (
    Status.SENT.value,
    Status.FAILED.value,
    *(kind.value for kind in EventType if kind is not EventType.UNKNOWN),
)
#: Asks for every event, the ones added later included.
ALL_EVENTS = "*"
#: The ``type`` of a delivery's payload is this prefix and the event: ``email.sent``.
TYPE_PREFIX = "email."


class UnknownEventError(ValueError):
    """An event name outside :data:`CALLBACK_EVENTS`; the message is a sentence for the client."""


def parse_events(names: Iterable[str]) -> tuple[str, ...]:
    """The events asked for, known, once each, in the order given; ``("*",)`` when ``*`` is
    among them. Raises :class:`UnknownEventError` for an unknown or empty list."""
    chosen: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if name == ALL_EVENTS:
            return (ALL_EVENTS,)
        if name not in CALLBACK_EVENTS:
            raise UnknownEventError(
                f"`events` holds {raw!r}, which is not an event; choose among "
                f"{', '.join(CALLBACK_EVENTS)}, or `*` for all of them."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise UnknownEventError(
            f"`events` is empty; list at least one of {', '.join(CALLBACK_EVENTS)}, or `*` "
            "for all of them."
        )
    return tuple(chosen)


def stored_events(events: Iterable[str]) -> str:
    """Events as the ``callbacks.events`` column holds them: comma-separated."""
    return ",".join(events)


def loaded_events(column: str) -> tuple[str, ...]:
    return tuple(name for name in column.split(",") if name)


def subscribed(column: str, event: str) -> bool:
    """Whether a callback whose ``events`` column is ``column`` wants ``event``."""
    events = loaded_events(column)
    return ALL_EVENTS in events or event in events


__all__ = [
    "ALL_EVENTS",
    "CALLBACK_EVENTS",
    "TYPE_PREFIX",
    "UnknownEventError",
    "loaded_events",
    "parse_events",
    "stored_events",
    "subscribed",
]
