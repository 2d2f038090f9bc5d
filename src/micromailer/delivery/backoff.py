"""When to try again: exponential backoff with jitter, never sooner than a provider asked."""

from __future__ import annotations

import random

_JITTER = random.Random()


def retry_delay(
    attempt_number: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after attempt ``attempt_number`` (1-based) failed.

    ``base`` after the first attempt, doubling after each further one, spread by ±20 %
    jitter so a burst of failures does not come back as a burst, never more than ``cap``;
    at least ``retry_after`` when a provider asked for it (even above ``cap``).
    """
    exponential = min(cap, base * 2.0 ** max(0, attempt_number - 1))
    jitter = (rng or _JITTER).uniform(0.8, 1.2)
    delay = min(cap, exponential * jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


__all__ = ["retry_delay"]
