"""Fixed priority with failover: always the configured order, whatever happened before."""

from __future__ import annotations

from micromailer.health.strategy import DECAY, SUCCESS_GAIN, HealthStep, ProviderHealth


class PriorityStrategy:
    """Rank by ``base_score`` alone; failures still fail over to the next provider.

    Health is kept exactly as the original keeps it (so the board and ``GET /providers``
    show it), but it never moves the score: the baseline that learns nothing.
    """

    name = "priority"
    success_step = HealthStep(factor=DECAY, gain=SUCCESS_GAIN)
    failure_step = HealthStep(factor=DECAY, marks_error=True)

    def on_success(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return self.success_step.apply(state, now)

    def on_failure(self, state: ProviderHealth, now: float) -> ProviderHealth:
        return self.failure_step.apply(state, now)

    def score(self, state: ProviderHealth, now: float) -> float:
        return min(100.0, max(0.0, state.base_score))


__all__ = ["PriorityStrategy"]
