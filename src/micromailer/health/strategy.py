"""Selection strategies: how one provider's health moves and what score it yields.

A strategy is pure: it takes a state and the time, returns a new state or a score. It never
reads a clock itself, so the simulation can drive it with simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

#: Seconds over which a provider's score climbs back linearly after its last failure.
RECOVERY_SECONDS = 300.0
#: How much of the old health survives one event.
DECAY = 0.9
#: What one success adds back. Written as the literal 0.1 of the rule: ``1 - DECAY`` is
#: 0.09999999999999998 in floating point, which drifts from the original's numbers.
SUCCESS_GAIN = 0.1


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """What a board remembers about one provider."""

    name: str
    base_score: float
    health: float = 1.0
    #: Time of the last failure, seconds on the board's clock; ``None`` if it never failed.
    last_error: float | None = None


class Strategy(Protocol):
    name: str

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth: ...

    def on_failure(self, state: ProviderHealth, now: float) -> ProviderHealth: ...

    def score(self, state: ProviderHealth, now: float) -> float: ...


class OriginalStrategy:
    """The 2016 rule, exactly.

    - success: ``health = health * 0.9 + 0.1``
    - failure: ``health = health * 0.9``, ``last_error = now``
    - ``weight = min(1, (now - last_error) / 300)``
    - ``score = clamp(base_score * (weight + health * (1 - weight)), 0, 100)``
    """

    name = "original"

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return replace(state, health=state.health * DECAY + SUCCESS_GAIN)

    def on_failure(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return replace(state, health=state.health * DECAY, last_error=now)

    def score(self, state: ProviderHealth, now: float) -> float:
        weight = recovery_weight(state.last_error, now)
        raw = state.base_score * (weight + state.health * (1 - weight))
        return min(100.0, max(0.0, raw))


def recovery_weight(last_error: float | None, now: float) -> float:
    """0 right after a failure, rising linearly to 1 after :data:`RECOVERY_SECONDS`."""
    if last_error is None:
        return 1.0
    return min(1.0, max(0.0, (now - last_error) / RECOVERY_SECONDS))


def base_scores(names: list[str], top: float = 50.0) -> dict[str, float]:
    """Preference by position: 50 for the first provider, then 49, 48…"""
    return {name: top - index for index, name in enumerate(names)}


STRATEGIES: dict[str, type[OriginalStrategy]] = {OriginalStrategy.name: OriginalStrategy}


def make_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]()
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r}; known: {known}") from None


__all__ = [
    "DECAY",
    "RECOVERY_SECONDS",
    "STRATEGIES",
    "SUCCESS_GAIN",
    "OriginalStrategy",
    "ProviderHealth",
    "Strategy",
    "base_scores",
    "make_strategy",
    "recovery_weight",
]
