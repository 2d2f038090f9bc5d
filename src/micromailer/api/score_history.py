"""Provider scores over time, sampled by the API process for the web page's chart.

A background task started with the app (its lifespan) reads the live scores every
:data:`SAMPLE_INTERVAL` seconds, exactly as ``GET /providers`` does, and keeps the last
:data:`CAPACITY` samples in memory. ``GET /providers/history`` serves them.

The history is per API process and starts when the process starts: nothing is stored, a
restart forgets it, and two API processes behind a load balancer each keep their own (they
read the same shared board, so their samples agree). We sample on the server rather than in
the browser so that a visitor who opens the page sees what happened before they came: the
drop of a provider's score during an outage and its climb back over the next five minutes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from micromailer.health.snapshots import ProviderScore

log = logging.getLogger(__name__)

#: Seconds between two samples.
SAMPLE_INTERVAL = 1.0
#: Samples kept: 15 minutes at one a second.
CAPACITY = 900

ReadScores = Callable[[], Sequence[ProviderScore]]


@dataclass(frozen=True, slots=True)
class ScoreSample:
    """Every provider's score at one moment (``at``: Unix time, seconds)."""

    at: float
    scores: dict[str, float]


class ScoreHistory:
    """A bounded ring buffer of samples; thread-safe, oldest dropped first."""

    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self._samples: deque[ScoreSample] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._clock = clock
        self.started_at = clock()

    def record(self, scores: Sequence[ProviderScore]) -> ScoreSample:
        sample = ScoreSample(self._clock(), {s.name: round(s.score, 4) for s in scores})
        with self._lock:
            self._samples.append(sample)
        return sample

    def since(self, seconds: float) -> list[ScoreSample]:
        """The samples of the last ``seconds``, oldest first."""
        cutoff = self._clock() - seconds
        with self._lock:
            return [sample for sample in self._samples if sample.at >= cutoff]


async def sample_forever(
    history: ScoreHistory, read_scores: ReadScores, interval: float = SAMPLE_INTERVAL
) -> None:
    """Record a sample every ``interval`` seconds until cancelled.

    A failed read (Redis unreachable, store down) records nothing: the chart shows a gap
    rather than invented scores. It is logged once when reads start failing and once when
    they work again.
    """
    failing = False
    while True:
        try:
            history.record(await run_in_threadpool(read_scores))
        except Exception as exc:  # advisory data: never let the sampler die
            if not failing:
                log.warning("score history: could not read the live scores (%s)", exc)
            failing = True
        else:
            if failing:
                log.info("score history: live scores readable again")
            failing = False
        await asyncio.sleep(interval)


def score_history_lifespan(
    read_scores: Callable[[FastAPI], ReadScores],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that samples ``app.state.score_history`` while the app runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(
            sample_forever(app.state.score_history, read_scores(app)), name="score-history"
        )
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    return lifespan


__all__ = [
    "CAPACITY",
    "SAMPLE_INTERVAL",
    "ReadScores",
    "ScoreHistory",
    "ScoreSample",
    "sample_forever",
    "score_history_lifespan",
]
