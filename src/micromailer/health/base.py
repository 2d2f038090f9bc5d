"""What every strategy and board shares: a provider's remembered health, one update step as
data, and the strategy protocols.

A strategy is pure: it takes a state and the time, returns a new state or a score. It never
reads a clock itself, so the simulation can drive it with simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """What a board remembers about one provider."""

    name: str
    base_score: float
    health: float = 1.0
    #: Time of the last failure, seconds on the board's clock; ``None`` if it never failed.
    last_error: float | None = None
    #: Time before which the provider asked not to be sent anything (its last ``Retry-After``),
    #: for a strategy that holds it off; ``None`` if it never asked.
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class HealthStep:
    """One event's effect on a provider's health: ``health * factor + gain``.

    A step that ``marks_error`` also sets ``last_error`` to the time of the event; a step that
    ``holds`` sets ``retry_at`` to the time of the event plus the ``Retry-After`` the failure
    carried (``hold``), when it carried one. The rule is data so that a shared board can apply
    the very same step where the state lives (the Redis board runs it in a Lua script) while
    the strategy stays its one definition.
    """

    factor: float
    gain: float = 0.0
    marks_error: bool = False
    holds: bool = False

    def apply(
        self, state: ProviderHealth, now: float, hold: float | None = None
    ) -> ProviderHealth:
        # Built directly rather than with dataclasses.replace: this runs on every provider
        # try, and the simulation makes millions of them.
        return ProviderHealth(
            state.name,
            state.base_score,
            state.health * self.factor + self.gain,
            now if self.marks_error else state.last_error,
            now + hold if self.holds and hold is not None else state.retry_at,
        )


class Strategy(Protocol):
    name: str

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth: ...

    def on_failure(
        self, state: ProviderHealth, now: float, retry_after: float | None = None
    ) -> ProviderHealth:
        """A failed try; ``retry_after`` is the seconds a 429 asked to wait, if it said."""
        ...

    def score(self, state: ProviderHealth, now: float) -> float: ...


@runtime_checkable
class SteppedStrategy(Strategy, Protocol):
    """A strategy whose updates are :class:`HealthStep` data, so a shared board can run them."""

    def step(self, succeeded: bool, retry_after: float | None = None) -> HealthStep:
        """The step for a success, a failure, or a failure that named its ``Retry-After``."""
        ...


@runtime_checkable
class ParkingStrategy(Strategy, Protocol):
    """A strategy that parks a failing provider for a while, as the breaker does."""

    def parked(self, state: ProviderHealth, now: float) -> bool:
        """Whether the provider waits out its backoff at ``now``."""
        ...


def base_scores(names: list[str], top: float = 50.0) -> dict[str, float]:
    """Preference by position: 50 for the first provider, then 49, 48…"""
    return {name: top - index for index, name in enumerate(names)}


__all__ = [
    "HealthStep", "ParkingStrategy", "ProviderHealth", "SteppedStrategy", "Strategy",
    "base_scores",
]
