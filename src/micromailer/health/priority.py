"""Fixed priority with failover: always the configured order, whatever happened before."""

from __future__ import annotations

from micromailer.health.base import ProviderHealth
from micromailer.health.original import OriginalStrategy


class PriorityStrategy(OriginalStrategy):
    """Rank by ``base_score`` alone; failures still fail over to the next provider.

    Health moves exactly as the original's (its steps are inherited, so the board and
    ``GET /providers`` show it), but it never moves the score: the baseline that learns nothing.
    """

    name = "priority"

    def score(self, state: ProviderHealth, now: float) -> float:
        return min(100.0, max(0.0, state.base_score))


__all__ = ["PriorityStrategy"]
