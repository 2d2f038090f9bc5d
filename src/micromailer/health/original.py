"""The original selection rule of 2016, exactly; the other strategies build on its steps."""

from __future__ import annotations

from micromailer.health.base import HealthStep, ProviderHealth

#: Seconds over which a provider's score climbs back linearly after its last failure.
RECOVERY_SECONDS = 300.0
#: How much of the old health survives one event.
DECAY = 0.9
#: What one success adds back. Written as the literal 0.1 of the rule: ``1 - DECAY`` is
#: 0.09999999999999998 in floating point, which drifts from the original's numbers.
SUCCESS_GAIN = 0.1


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


__all__ = ["DECAY", "RECOVERY_SECONDS", "SUCCESS_GAIN", "OriginalStrategy", "recovery_weight"]
