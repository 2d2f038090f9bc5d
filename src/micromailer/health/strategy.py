"""The strategies the service can run, by name (``MICROMAILER_STRATEGY``)."""

from __future__ import annotations

# The names live with the settings that check them, so that settings never import health.
from micromailer.config import DEFAULT_STRATEGY, STRATEGY_NAMES
from micromailer.health.base import Strategy
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.original import OriginalStrategy
from micromailer.health.priority import PriorityStrategy

_FACTORIES: dict[str, type[Strategy]] = {
    OriginalStrategy.name: OriginalStrategy,
    BreakerStrategy.name: BreakerStrategy,
    PriorityStrategy.name: PriorityStrategy,
}


def make_strategy(name: str) -> Strategy:
    """The strategy called ``name``; :class:`ValueError` naming the known ones if none is."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        known = ", ".join(STRATEGY_NAMES)
        raise ValueError(f"unknown strategy {name!r}; known: {known}") from None


__all__ = ["DEFAULT_STRATEGY", "STRATEGY_NAMES", "make_strategy"]
