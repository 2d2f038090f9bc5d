"""The scenarios: who the providers are, how each behaves, how many workers send.

Every scenario runs 30 minutes at 10 emails a second (18,000 emails), as the original study
did; the first provider listed is the preferred one. The original study's three come first,
with its numbers: preferred ``A`` (base score 50), healthy alternative ``B`` (40).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from micromailer.simulate.faults import (
    Behaviour,
    Failing,
    Flapping,
    Healthy,
    RateLimited,
    Slowing,
)

#: The client's timeout of one provider call (``MICROMAILER_PROVIDER_TIMEOUT``'s default).
PROVIDER_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class SimProvider:
    name: str
    base_score: float
    behaviour: Behaviour


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    providers: tuple[SimProvider, ...]
    duration: float = 1800.0
    rate: float = 10.0
    #: Workers sending in turn (email ``i`` goes to worker ``i % workers``).
    workers: int = 1
    #: With several workers: one board for all (Redis) or one each (memory).
    shared_board: bool = True

    @property
    def preferred(self) -> SimProvider:
        return self.providers[0]

    @property
    def emails(self) -> int:
        return round(self.duration * self.rate)

    @property
    def concurrent(self) -> bool:
        """Whether tries take time, so that emails overlap in flight."""
        return any(_takes_time(p.behaviour) for p in self.providers)


def _takes_time(behaviour: Behaviour) -> bool:
    return isinstance(behaviour, Slowing) or getattr(behaviour, "latency", 0.0) > 0.0


def _bursts(seed: int, start: float, end: float) -> tuple[tuple[float, float], ...]:
    """Rate-limit bursts of 10 to 60 s, about two minutes apart, fixed by ``seed``."""
    rng, t = random.Random(seed), start
    bursts: list[tuple[float, float]] = []
    while True:
        t += rng.expovariate(1 / 120.0)
        length = rng.uniform(10.0, 60.0)
        if t + length > end:
            return tuple(bursts)
        bursts.append((round(t, 1), round(t + length, 1)))
        t += length


def _pair(a: Behaviour, b: Behaviour | None = None) -> tuple[SimProvider, ...]:
    return (SimProvider("A", 50.0, a), SimProvider("B", 40.0, b or Healthy()))


OUTAGE = Failing(1.0, 200.0, 800.0)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("original-outage", "A fails every try from t=200 s to t=800 s", _pair(OUTAGE)),
    Scenario(
        "original-sporadic",
        "A fails half its tries from t=200 s to t=800 s",
        _pair(Failing(0.5, 200.0, 800.0)),
    ),
    Scenario("original-random5", "A fails 5% of its tries throughout", _pair(Failing(0.05))),
    Scenario(
        "both-degraded",
        "A fails 20% and B 5% of their tries from t=200 s to t=800 s",
        _pair(Failing(0.2, 200.0, 800.0), Failing(0.05, 200.0, 800.0)),
    ),
    Scenario(
        "flapping",
        "A is down one minute, up the next, from t=200 s to t=1400 s",
        _pair(Flapping(200.0, 1400.0)),
    ),
    Scenario(
        "latency-timeouts",
        "A slows from 0.2 s to a median 5 s from t=200 s to t=800 s; tries over 20 s time out",
        _pair(
            Slowing(200.0, 800.0, 5.0, 1.0, PROVIDER_TIMEOUT, 0.2),
            Healthy(latency=0.4),
        ),
    ),
    Scenario(
        "rate-limit-429",
        "A answers 429 with Retry-After in bursts of 10-60 s about every two minutes",
        _pair(RateLimited(_bursts(429, 100.0, 1700.0))),
    ),
    Scenario(
        "three-providers",
        "A (50) down 200-800 s, B (40) fails half its tries 400-1000 s, C (30) healthy",
        (
            SimProvider("A", 50.0, OUTAGE),
            SimProvider("B", 40.0, Failing(0.5, 400.0, 1000.0)),
            SimProvider("C", 30.0, Healthy()),
        ),
    ),
    Scenario(
        "workers8-memory",
        "original-outage sent by 8 workers, each with its own memory board",
        _pair(OUTAGE),
        workers=8,
        shared_board=False,
    ),
    Scenario(
        "workers8-shared",
        "original-outage sent by 8 workers sharing one board (as with Redis)",
        _pair(OUTAGE),
        workers=8,
        shared_board=True,
    ),
)

ORIGINAL_SCENARIOS = ("original-outage", "original-sporadic", "original-random5")


def with_service_bases(scenario: Scenario) -> Scenario:
    """``scenario`` with the base scores the service gives its providers (50, 49, 48…, see
    :func:`micromailer.health.base.base_scores`) instead of the study's 50, 40, 30."""
    providers = tuple(
        replace(provider, base_score=50.0 - index)
        for index, provider in enumerate(scenario.providers)
    )
    return replace(scenario, providers=providers)


def scenario_names() -> list[str]:
    return [scenario.name for scenario in SCENARIOS]


def get_scenario(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(f"unknown scenario {name!r}; known: {', '.join(scenario_names())}")


__all__ = [
    "ORIGINAL_SCENARIOS",
    "PROVIDER_TIMEOUT",
    "SCENARIOS",
    "Scenario",
    "SimProvider",
    "get_scenario",
    "scenario_names",
    "with_service_bases",
]
