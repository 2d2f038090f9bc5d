"""The breaker strategy: park a failing provider, probe it after a backoff its health sets.

State and updates are the original's, step for step (``health`` and ``last_error``), so every
board, the Redis script and the store's snapshots run it unchanged; only the score differs, and
a 429 that names its ``Retry-After`` holds the provider off for exactly that long instead.
"""

from __future__ import annotations

import math

from micromailer.health.base import HealthStep, ProviderHealth
from micromailer.health.original import DECAY, OriginalStrategy

#: Seconds a provider is parked after one failure from full health.
FIRST_BACKOFF = 20.0
#: The longest a provider stays parked before it gets one email again (a probe): after an
#: outage ends, the provider is back within this many seconds (docs/selection.md).
MAX_BACKOFF = 180.0
#: How hard parking demotes: the parked score is ``base_score * health ** PARKED_POWER``.
PARKED_POWER = 3.0


class BreakerStrategy(OriginalStrategy):
    """A circuit breaker whose backoff doubles with every recent failure.

    - success and failure move ``health`` exactly as the original does (x0.9 + 0.1, x0.9) and
      a failure stamps ``last_error`` (the steps are inherited);
    - for ``backoff(health)`` seconds after its last failure a provider is *parked*: its score
      is ``base_score * health ** 3``, below a healthy peer (one failure from full health gives
      0.729 of the base: 36.5 for a base of 50, under 40 or 49);
    - once the backoff is over its score is ``base_score`` again, so the next email tries it
      first: that email is the probe. A success keeps it there; a failure parks it again, for
      twice as long.

    ``backoff`` reads how many recent failures the health holds: ``n`` failures in a row leave
    ``0.9 ** n``, which gives ``first * 2 ** (n - 1)`` seconds (20, 40, 80, 160…), at most
    ``longest`` (180). Successes raise health, so the backoff shrinks again as the provider
    proves itself; a provider that never failed is never parked.

    A rate limit that says when to come back (a 429 with ``Retry-After``) is not ill health:
    it leaves ``health`` and ``last_error`` alone and *holds* the provider, scoring 0, until
    the time it named. Then it is first again at once, with no probe to wait for. A 429
    without ``Retry-After`` is an ordinary failure.
    """

    name = "breaker"
    held_step = HealthStep(factor=1.0, holds=True)

    def __init__(
        self,
        first: float = FIRST_BACKOFF,
        longest: float = MAX_BACKOFF,
        power: float = PARKED_POWER,
    ) -> None:
        self.first = first
        self.longest = longest
        self.power = power

    def __repr__(self) -> str:
        return f"BreakerStrategy(first={self.first}, longest={self.longest}, power={self.power})"

    def backoff(self, health: float) -> float:
        """Seconds a provider of this health stays parked after its last failure."""
        if health <= 0.0:
            return self.longest
        failures = math.log(min(health, 1.0)) / math.log(DECAY)
        return min(self.longest, self.first * math.pow(2.0, failures - 1.0))

    def parked(self, state: ProviderHealth, now: float) -> bool:
        """Whether the provider waits out its backoff at ``now``."""
        if state.last_error is None:
            return False
        return now - state.last_error < self.backoff(state.health)

    def held(self, state: ProviderHealth, now: float) -> bool:
        """Whether the provider asked, with ``Retry-After``, not to be sent anything yet."""
        return state.retry_at is not None and now < state.retry_at

    def score(self, state: ProviderHealth, now: float) -> float:
        if self.held(state, now):
            return 0.0
        raw = state.base_score
        if self.parked(state, now):
            raw *= math.pow(max(0.0, state.health), self.power)
        return min(100.0, max(0.0, raw))


__all__ = ["FIRST_BACKOFF", "MAX_BACKOFF", "PARKED_POWER", "BreakerStrategy"]
