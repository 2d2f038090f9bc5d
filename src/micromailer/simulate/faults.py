"""How a simulated provider behaves over time: when it fails, how, and how slowly it answers.

A behaviour is a pure function of the time of a try and two uniform draws (``u`` decides
failure, ``v`` latency), so every strategy meets the very same provider on the same seed, and
the oracle can ask what a try would come to without making it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Protocol

_NORMAL = NormalDist()


class ErrorKind(StrEnum):
    """The failures a simulated provider answers with (mapped onto the real error classes)."""

    SERVER = "server"  # HTTP 503
    TIMEOUT = "timeout"  # no answer before the client's timeout
    RATE_LIMITED = "rate_limited"  # HTTP 429 with Retry-After


@dataclass(frozen=True, slots=True)
class Answer:
    """What one try comes to, and how many seconds it takes."""

    seconds: float = 0.0
    error: ErrorKind | None = None
    retry_after: float | None = None


OK = Answer()


class Behaviour(Protocol):
    def answer(self, t: float, u: float, v: float) -> Answer: ...

    def healthy(self, t: float) -> bool:
        """Whether every try at ``t`` succeeds at normal speed."""
        ...

    def recoveries(self, duration: float) -> list[float]:
        """Times at which a fault ends and the provider is healthy again."""
        ...


@dataclass(frozen=True, slots=True)
class Healthy:
    latency: float = 0.0

    def answer(self, t: float, u: float, v: float) -> Answer:
        return Answer(self.latency) if self.latency else OK

    def healthy(self, t: float) -> bool:
        return True

    def recoveries(self, duration: float) -> list[float]:
        return []


@dataclass(frozen=True, slots=True)
class Failing:
    """Fails a share ``rate`` of tries with HTTP 503 strictly between ``start`` and ``end``
    (the original study's windows: ``200 < t < 800``)."""

    rate: float
    start: float = -math.inf
    end: float = math.inf
    latency: float = 0.0

    def answer(self, t: float, u: float, v: float) -> Answer:
        if self.start < t < self.end and u < self.rate:
            return Answer(self.latency, ErrorKind.SERVER)
        return Answer(self.latency) if self.latency else OK

    def healthy(self, t: float) -> bool:
        return not (self.start < t < self.end) or self.rate <= 0.0

    def recoveries(self, duration: float) -> list[float]:
        return [self.end] if self.end < duration else []


@dataclass(frozen=True, slots=True)
class Flapping:
    """Down (every try 503) for ``down`` seconds, up for ``up``, over and over, in
    ``[start, end)``."""

    start: float
    end: float
    down: float = 60.0
    up: float = 60.0

    def _down(self, t: float) -> bool:
        return self.start <= t < self.end and (t - self.start) % (self.down + self.up) < self.down

    def answer(self, t: float, u: float, v: float) -> Answer:
        return Answer(0.0, ErrorKind.SERVER) if self._down(t) else OK

    def healthy(self, t: float) -> bool:
        return not self._down(t)

    def recoveries(self, duration: float) -> list[float]:
        ends, t = [], self.start + self.down
        while t <= min(self.end, duration):
            ends.append(t)
            t += self.down + self.up
        return ends


@dataclass(frozen=True, slots=True)
class Slowing:
    """Answers in ``normal`` seconds, but in ``(start, end)`` its latency is log-normal
    (``median``, ``sigma``); a try longer than ``timeout`` fails as a timeout after ``timeout``
    seconds, the client's limit."""

    start: float
    end: float
    median: float
    sigma: float
    timeout: float
    normal: float

    def answer(self, t: float, u: float, v: float) -> Answer:
        if not self.start < t < self.end:
            return Answer(self.normal)
        z = _NORMAL.inv_cdf(min(max(v, 1e-12), 1 - 1e-12))
        seconds = self.median * math.exp(self.sigma * z)
        if seconds >= self.timeout:
            return Answer(self.timeout, ErrorKind.TIMEOUT)
        return Answer(seconds)

    def healthy(self, t: float) -> bool:
        return not self.start < t < self.end

    def recoveries(self, duration: float) -> list[float]:
        return [self.end] if self.end < duration else []


@dataclass(frozen=True, slots=True)
class RateLimited:
    """Answers 429 during each burst ``[start, end)``, with ``Retry-After`` the seconds left in
    the burst (rounded up, as the header is whole seconds)."""

    bursts: tuple[tuple[float, float], ...]

    def _burst_end(self, t: float) -> float | None:
        for start, end in self.bursts:
            if start <= t < end:
                return end
        return None

    def answer(self, t: float, u: float, v: float) -> Answer:
        end = self._burst_end(t)
        if end is None:
            return OK
        return Answer(0.0, ErrorKind.RATE_LIMITED, float(math.ceil(end - t)))

    def healthy(self, t: float) -> bool:
        return self._burst_end(t) is None

    def recoveries(self, duration: float) -> list[float]:
        return [end for _, end in self.bursts if end < duration]


__all__ = [
    "OK",
    "Answer",
    "Behaviour",
    "ErrorKind",
    "Failing",
    "Flapping",
    "Healthy",
    "RateLimited",
    "Slowing",
]
