"""Health snapshots: how a worker's memory board becomes readable by the API and CLI.

In embedded mode the board lives in the worker process. After each attempt the worker
publishes the board's states to the store when they changed (a success at full health changes
nothing, so a healthy service writes nothing), and the API computes live scores from the last
snapshot with the same strategy and the current time. The recovery part of the score is a
function of time alone, so a snapshot stays exact until the next failure or success.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from micromailer.health.board import MemoryBoard
from micromailer.health.strategy import ProviderHealth, Strategy, base_scores

log = logging.getLogger(__name__)

SaveStates = Callable[[Sequence[ProviderHealth]], None]


class SnapshotPublisher:
    """Saves a memory board's states whenever its version moved since the last save."""

    def __init__(self, board: MemoryBoard, save: SaveStates) -> None:
        self._board = board
        self._save = save
        self._published_version = -1
        self._lock = threading.Lock()

    def publish_if_changed(self) -> bool:
        version = self._board.version
        if version == self._published_version:
            return False
        with self._lock:
            if version == self._published_version:
                return False
            try:
                self._save(self._board.states())
            except Exception as exc:  # scores are advisory; delivery must go on
                log.warning("could not publish provider health: %s", exc)
                return False
            self._published_version = version
            return True


@dataclass(frozen=True, slots=True)
class ProviderScore:
    name: str
    kind: str
    score: float
    base_score: float
    health: float
    last_error: float | None


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
    return [
        ProviderScore(
            name=state.name,
            kind=state.name,
            score=strategy.score(state, now),
            base_score=state.base_score,
            health=state.health,
            last_error=state.last_error,
        )
        for state in states
    ]


__all__ = ["ProviderScore", "SaveStates", "SnapshotPublisher", "live_scores"]
