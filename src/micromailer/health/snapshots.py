"""Health snapshots: how a worker's memory board becomes readable by the API and CLI.

In embedded mode the board lives in the worker process. The board learns from each provider
try as it ends, and each lesson wakes a publisher thread that saves the board's states to the
store when they changed (a success at full health changes nothing, so a healthy service writes
nothing). The API computes live scores from the last snapshot with the same strategy and the
current time: the recovery part of a score, and the end of a 429's hold (``retry_at``), are
functions of time alone, so a snapshot stays exact until the next failure or success.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from micromailer.health.base import ParkingStrategy, ProviderHealth, Strategy, base_scores
from micromailer.health.board import MemoryBoard

log = logging.getLogger(__name__)

SaveStates = Callable[[Sequence[ProviderHealth]], None]

#: Seconds between the starts of two saves, at the least: a recovering provider changes the
#: board on every success, and readers need no fresher view than this.
SNAPSHOT_INTERVAL = 0.05


class SnapshotPublisher:
    """Saves a memory board's states whenever its version moved since the last save.

    :meth:`notify` (after each lesson) wakes a thread of its own that saves, so the delivery
    path never waits for the store; saves start at least ``min_interval`` seconds apart, and the
    lessons that arrive meanwhile go in the next one.
    """

    def __init__(
        self, board: MemoryBoard, save: SaveStates, min_interval: float = SNAPSHOT_INTERVAL
    ) -> None:
        self._board = board
        self._save = save
        self._min_interval = min_interval
        self._published_version = -1
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        """The board may have changed: save it soon (cheap; never blocks)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="micromailer-health-snapshots", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def publish_if_changed(self) -> bool:
        """Save the board's states now if they changed since the last save."""
        with self._lock:
            version = self._board.version
            if version == self._published_version:
                return False
            try:
                self._save(self._board.states())
            except Exception as exc:  # scores are advisory; delivery must go on
                log.warning("could not publish provider health: %s", exc)
                return False
            self._published_version = version
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Save what is left and stop the thread."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.publish_if_changed()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait()
            self._wake.clear()
            started = time.monotonic()
            self.publish_if_changed()
            time.sleep(max(0.0, started + self._min_interval - time.monotonic()))


@dataclass(frozen=True, slots=True)
class ProviderScore:
    name: str
    kind: str
    score: float
    base_score: float
    health: float
    last_error: float | None
    #: Whether the strategy parks the provider now; ``None`` under one that never parks.
    parked: bool | None = None


def live_scores(
    names: Sequence[str], strategy: Strategy, saved: Sequence[ProviderHealth], now: float
) -> list[ProviderScore]:
    """Scores of the configured providers from saved states (missing ones are healthy)."""
    by_name = {state.name: state for state in saved}
    states = [
        ProviderHealth(name, base, state.health, state.last_error, state.retry_at)
        if (state := by_name.get(name)) else ProviderHealth(name, base)
        for name, base in base_scores(list(names)).items()
    ]
    parking = strategy if isinstance(strategy, ParkingStrategy) else None
    return [
        ProviderScore(
            name=state.name,
            kind=state.name,
            score=strategy.score(state, now),
            base_score=state.base_score,
            health=state.health,
            last_error=state.last_error,
            parked=parking.parked(state, now) if parking is not None else None,
        )
        for state in states
    ]


__all__ = ["SNAPSHOT_INTERVAL", "ProviderScore", "SaveStates", "SnapshotPublisher", "live_scores"]
