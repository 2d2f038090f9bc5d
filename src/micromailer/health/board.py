"""Health boards: where the providers' health lives and how it is ranked.

:class:`MemoryBoard` keeps it in this process; a shared board (Redis) implements the same
:class:`HealthBoard` protocol. Boards take a clock so simulated time can drive them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from micromailer.health.base import ProviderHealth, Strategy
from micromailer.health.lesson import Lesson

Clock = Callable[[], float]


class HealthBoard(Protocol):
    strategy: Strategy

    def record_success(self, name: str) -> None: ...

    def record_failure(self, name: str, retry_after: float | None = None) -> None: ...

    def record_many(self, lessons: Iterable[Lesson]) -> None:
        """Record the lessons in order; a shared board in one round trip."""
        ...

    def states(self) -> list[ProviderHealth]: ...

    def scores(self) -> dict[str, float]: ...

    def ranked(self) -> list[str]: ...


class MemoryBoard:
    """A thread-safe board in this process's memory."""

    def __init__(
        self,
        strategy: Strategy,
        base_scores: dict[str, float],
        clock: Clock = time.time,
    ) -> None:
        self.strategy = strategy
        self._clock = clock
        self._lock = threading.Lock()
        self._states = {
            name: ProviderHealth(name=name, base_score=score) for name, score in base_scores.items()
        }
        #: Bumped on every change, so a publisher can tell whether there is news.
        self.version = 0

    def record_success(self, name: str) -> None:
        with self._lock:
            state = self._states[name]
            updated = self.strategy.on_success(state, self._clock())
            if updated != state:
                self._states[name] = updated
                self.version += 1

    def record_failure(self, name: str, retry_after: float | None = None) -> None:
        with self._lock:
            state = self._states[name]
            updated = self.strategy.on_failure(state, self._clock(), retry_after)
            if updated != state:
                self._states[name] = updated
                self.version += 1

    def record_many(self, lessons: Iterable[Lesson]) -> None:
        for name, succeeded, retry_after in lessons:
            if succeeded:
                self.record_success(name)
            else:
                self.record_failure(name, retry_after)

    def states(self) -> list[ProviderHealth]:
        with self._lock:
            return list(self._states.values())

    def load(self, states: Iterable[ProviderHealth]) -> None:
        """Adopt saved states for known providers (base scores stay as configured)."""
        with self._lock:
            for saved in states:
                current = self._states.get(saved.name)
                if current is None:
                    continue
                adopted = ProviderHealth(
                    saved.name, current.base_score, saved.health, saved.last_error,
                    saved.retry_at,
                )
                if adopted != current:
                    self._states[saved.name] = adopted
                    self.version += 1

    def scores(self) -> dict[str, float]:
        now = self._clock()
        return {state.name: self.strategy.score(state, now) for state in self.states()}

    def ranked(self) -> list[str]:
        """Provider names, best score first; ties keep configured order."""
        return rank(self.scores())


def rank(scores: dict[str, float]) -> list[str]:
    """Names by descending score, stable on ties."""
    return sorted(scores, key=lambda name: -scores[name])


__all__ = ["Clock", "HealthBoard", "MemoryBoard", "rank"]
