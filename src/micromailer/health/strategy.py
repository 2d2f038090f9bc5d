"""Selection strategies: how one provider's health moves and what score it yields.

A strategy is pure: it takes a state and the time, returns a new state or a score. It never
reads a clock itself, so the simulation can drive it with simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from micromailer.config import DEFAULT_STRATEGY, STRATEGY_NAMES

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


class OriginalStrategy:
    """The 2016 rule, exactly.

    - success: ``health = health * 0.9 + 0.1``
    - failure: ``health = health * 0.9``, ``last_error = now``
    - ``weight = min(1, (now - last_error) / 300)``
    - ``score = clamp(base_score * (weight + health * (1 - weight)), 0, 100)``
    """

    name = "original"
    DECAY = DECAY
    SUCCESS_GAIN = SUCCESS_GAIN
    success_step = HealthStep(factor=DECAY, gain=SUCCESS_GAIN)
    failure_step = HealthStep(factor=DECAY, marks_error=True)
    #: A 429 that names its ``Retry-After`` is a failure like any other for the original rule.
    held_step = failure_step

    def step(self, succeeded: bool, retry_after: float | None = None) -> HealthStep:
        if succeeded:
            return self.success_step
        return self.failure_step if retry_after is None else self.held_step

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return self.success_step.apply(state, now)

    def on_failure(
        self, state: ProviderHealth, now: float, retry_after: float | None = None
    ) -> ProviderHealth:
        return self.step(False, retry_after).apply(state, now, retry_after)

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


def make_strategy(name: str) -> Strategy:
    """The strategy called ``name``; :class:`ValueError` naming the known ones if none is."""
    # Imported here: those modules build on this one.
    from micromailer.health.breaker import BreakerStrategy
    from micromailer.health.priority import PriorityStrategy

    factories: dict[str, type[Strategy]] = {
        OriginalStrategy.name: OriginalStrategy,
        "breaker": BreakerStrategy,
        PriorityStrategy.name: PriorityStrategy,
    }
    try:
        return factories[name]()
    except KeyError:
        known = ", ".join(STRATEGY_NAMES)
        raise ValueError(f"unknown strategy {name!r}; known: {known}") from None


__all__ = [
    "DECAY",
    "DEFAULT_STRATEGY",
    "RECOVERY_SECONDS",
    "STRATEGY_NAMES",
    "SUCCESS_GAIN",
    "HealthStep",
    "OriginalStrategy",
    "ProviderHealth",
    "SteppedStrategy",
    "Strategy",
    "base_scores",
    "make_strategy",
    "recovery_weight",
]
