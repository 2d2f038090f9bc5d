"""The shared health board: every worker learns from every other worker's failures.

:class:`RedisBoard` implements :class:`~micromailer.health.board.HealthBoard` on Redis (see
:mod:`micromailer.health.redis_states` for the keys and the update script): one round trip per
update, scores computed by the strategy at Redis's time.

Redis is advisory, delivery is not: when a call fails (unreachable, timeout, any Redis error)
the board carries on from a :class:`~micromailer.health.board.MemoryBoard` of this process,
seeded with the last states it saw in Redis, logs one WARNING, and lets one call try Redis
again every ``retry_interval`` seconds. When Redis answers again it logs "shared health board
is back" once and goes back to it. What this worker learned meanwhile stays local: Redis is the
shared truth, and a provider's health recovers with time anyway. No Redis error ever reaches
the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

from micromailer.health.base import ProviderHealth, SteppedStrategy, Strategy
from micromailer.health.board import Clock, MemoryBoard, rank
from micromailer.health.lesson import Lesson
from micromailer.health.redis_states import (
    DEFAULT_TIMEOUT,
    KEY_PREFIX,
    RedisStates,
    redis_client,
)
from micromailer.providers.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Seconds between two tries of an unreachable Redis.
DEFAULT_RETRY_INTERVAL = 2.0

T = TypeVar("T")

#: What a failing Redis call raises: any Redis error, or a stored value that is not a number.
REDIS_FAILURES = (redis.RedisError, ValueError)


class RedisBoard:
    """A board in Redis shared by every worker, with this process's memory as a fallback."""

    def __init__(
        self,
        client: redis.Redis,
        strategy: SteppedStrategy,
        base_scores: dict[str, float],
        *,
        prefix: str = KEY_PREFIX,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        monotonic: Clock = time.monotonic,
        fallback_clock: Clock = time.time,
    ) -> None:
        self.strategy: Strategy = strategy
        self._steps = strategy
        self._base_scores = dict(base_scores)
        self._redis = RedisStates(client, list(base_scores), prefix=prefix)
        self._memory = MemoryBoard(strategy, self._base_scores, clock=fallback_clock)
        self._fallback_clock = fallback_clock
        self._retry_interval = retry_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0
        #: The last states read from or written to Redis, to seed the fallback with.
        self._last_seen: dict[str, ProviderHealth] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        strategy: SteppedStrategy,
        base_scores: dict[str, float],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        prefix: str = KEY_PREFIX,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
    ) -> RedisBoard:
        """A board on its own fail-fast client (``timeout`` to connect and to read)."""
        return cls(
            redis_client(url, timeout),
            strategy,
            base_scores,
            prefix=prefix,
            retry_interval=retry_interval,
        )

    @property
    def shared(self) -> bool:
        """True while the board works on Redis, False while it works from memory."""
        return not self._down

    @property
    def client(self) -> redis.Redis:
        return self._redis.client

    # -- HealthBoard ----------------------------------------------------------------------

    def record_success(self, name: str) -> None:
        self.record_many([Lesson(name, True)])

    def record_failure(self, name: str, retry_after: float | None = None) -> None:
        self.record_many([Lesson(name, False, retry_after)])

    def record_many(self, lessons: Iterable[Lesson]) -> None:
        lessons = list(lessons)
        unknown = [lesson.provider for lesson in lessons
                   if lesson.provider not in self._base_scores]
        if unknown:
            raise KeyError(unknown[0])  # as in memory
        if not lessons:
            return
        steps = [
            (name, self._steps.step(succeeded, retry_after), retry_after)
            for name, succeeded, retry_after in lessons
        ]
        applied = self._call(lambda states: states.apply_many(steps))
        if applied is None:
            self._memory.record_many(lessons)
            return
        for (name, _, _), (health, last_error, retry_at) in zip(steps, applied, strict=True):
            self._last_seen[name] = ProviderHealth(
                name, self._base_scores[name], health, last_error, retry_at
            )

    def states(self) -> list[ProviderHealth]:
        return self.snapshot()[0]

    def scores(self) -> dict[str, float]:
        states, now = self.snapshot()
        return {state.name: self.strategy.score(state, now) for state in states}

    def ranked(self) -> list[str]:
        """Provider names, best score first; ties keep configured order."""
        return rank(self.scores())

    # -- beyond the protocol --------------------------------------------------------------

    def snapshot(self) -> tuple[list[ProviderHealth], float]:
        """Every provider's state and the time to score them at (Redis's, or this host's
        while working from memory)."""
        read = self._call(lambda states: states.read())
        if read is None:
            return self._memory.states(), self._fallback_clock()
        saved, now = read
        states = [
            ProviderHealth(
                state.name, self._base_scores[state.name], state.health, state.last_error,
                state.retry_at,
            )
            for state in saved
        ]
        self._last_seen = {state.name: state for state in states}
        return states, now

    def close(self) -> None:
        self._redis.client.close()

    # -- internals ------------------------------------------------------------------------

    def _call(self, operation: Callable[[RedisStates], T]) -> T | None:
        """``operation`` on Redis, or ``None`` when the board works from memory for now."""
        if not self._may_try():
            return None
        try:
            result = operation(self._redis)
        except REDIS_FAILURES as exc:
            self._went_down(exc)
            return None
        if self._down:
            self._came_back()
        return result

    def _may_try(self) -> bool:
        if not self._down:
            return True
        with self._lock:
            now = self._monotonic()
            if not self._down or now >= self._retry_at:
                # This call probes; the others stay on memory until the next interval.
                self._retry_at = now + self._retry_interval
                return True
            return False

    def _went_down(self, exc: Exception) -> None:
        with self._lock:
            self._retry_at = self._monotonic() + self._retry_interval
            if self._down:
                log.debug("shared health board still unreachable: %s", exc)
                return
            self._down = True
            self._memory.load(list(self._last_seen.values()))
        log.warning(
            "shared health board unreachable (%s: %s); this worker uses its own memory and "
            "tries Redis again every %g s",
            type(exc).__name__,
            exc,
            self._retry_interval,
        )

    def _came_back(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.info("shared health board is back")


def as_stepped(strategy: Strategy) -> SteppedStrategy:
    """``strategy`` if a shared board can run its updates; a
    :class:`~micromailer.providers.errors.ConfigurationError` if not, rather than run another
    rule in Redis than the one configured."""
    if not isinstance(strategy, SteppedStrategy):
        raise ConfigurationError(
            f"strategy {strategy.name!r} does not describe its updates as health steps, "
            "so the Redis board (MICROMAILER_REDIS_URL) cannot share it; choose another "
            "MICROMAILER_STRATEGY or run without Redis"
        )
    return strategy


__all__ = ["DEFAULT_RETRY_INTERVAL", "REDIS_FAILURES", "RedisBoard", "as_stepped"]
