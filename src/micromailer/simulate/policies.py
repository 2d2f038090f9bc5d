"""Which board each strategy of the simulation runs on.

The service's strategies (``original``, ``priority``, and ours, see
:func:`micromailer.health.strategy.make_strategy`) run on the real
:class:`~micromailer.health.board.MemoryBoard`. The baselines that are not scores (``random``,
``round-robin``, ``oracle``) are boards of their own here: they implement the same
:class:`~micromailer.health.board.HealthBoard` protocol, so the real Dispatcher ranks and fails
over with them exactly as with a scored board.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from micromailer.health.base import ProviderHealth, Strategy
from micromailer.health.board import Clock, HealthBoard, MemoryBoard
from micromailer.health.lesson import Lesson
from micromailer.health.priority import PriorityStrategy
from micromailer.health.strategy import STRATEGY_NAMES, make_strategy

#: Tells whether the named provider would accept the email being ranked right now.
WouldSucceed = Callable[[str], bool]

BASELINES = ("random", "round-robin", "oracle")


def strategy_names() -> list[str]:
    """Every strategy the simulation knows: the service's, then the baselines."""
    return [*STRATEGY_NAMES, *BASELINES]


class _FixedBoard:
    """A board that records health (as the priority strategy does) but ranks its own way."""

    def __init__(self, base_scores: dict[str, float], clock: Clock) -> None:
        self._inner = MemoryBoard(PriorityStrategy(), base_scores, clock)
        self.strategy: Strategy = self._inner.strategy
        self.names = list(base_scores)

    def record_success(self, name: str) -> None:
        self._inner.record_success(name)

    def record_failure(self, name: str, retry_after: float | None = None) -> None:
        self._inner.record_failure(name, retry_after)

    def record_many(self, lessons: Iterable[Lesson]) -> None:
        self._inner.record_many(lessons)

    def states(self) -> list[ProviderHealth]:
        return self._inner.states()

    def scores(self) -> dict[str, float]:
        return self._inner.scores()


class RandomBoard(_FixedBoard):
    """Every email gets the providers in a fresh random order (the original study's
    "random choice")."""

    def __init__(self, base_scores: dict[str, float], clock: Clock, rng: random.Random) -> None:
        super().__init__(base_scores, clock)
        self._rng = rng

    def ranked(self) -> list[str]:
        return self._rng.sample(self.names, len(self.names))


class RoundRobinBoard(_FixedBoard):
    """Email ``n`` starts with provider ``n mod k`` and fails over in turn."""

    def __init__(self, base_scores: dict[str, float], clock: Clock) -> None:
        super().__init__(base_scores, clock)
        self._turn = 0

    def ranked(self) -> list[str]:
        first = self._turn % len(self.names)
        self._turn += 1
        return self.names[first:] + self.names[:first]


class OracleBoard(_FixedBoard):
    """Knows the future: puts first the most preferred provider that will accept this email.

    It is the lower bound of any ranking: it fails a try only when every provider would fail
    that try (then it tries them all in preference order, as every ranking must).
    """

    def __init__(
        self, base_scores: dict[str, float], clock: Clock, would_succeed: WouldSucceed
    ) -> None:
        super().__init__(base_scores, clock)
        self._would_succeed = would_succeed

    def ranked(self) -> list[str]:
        good = [name for name in self.names if self._would_succeed(name)]
        return good + [name for name in self.names if name not in good]


def make_sim_board(
    strategy: str | Strategy,
    base_scores: dict[str, float],
    clock: Clock,
    *,
    rng: random.Random,
    would_succeed: WouldSucceed,
) -> HealthBoard:
    """The board that runs ``strategy`` (a name, or a strategy object to try out)."""
    if not isinstance(strategy, str):
        return MemoryBoard(strategy, base_scores, clock)
    if strategy == "random":
        return RandomBoard(base_scores, clock, rng)
    if strategy == "round-robin":
        return RoundRobinBoard(base_scores, clock)
    if strategy == "oracle":
        return OracleBoard(base_scores, clock, would_succeed)
    return MemoryBoard(make_strategy(strategy), base_scores, clock)


__all__ = [
    "BASELINES",
    "OracleBoard",
    "RandomBoard",
    "RoundRobinBoard",
    "WouldSucceed",
    "make_sim_board",
    "strategy_names",
]
