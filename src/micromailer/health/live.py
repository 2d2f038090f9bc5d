"""Live scores for readers (the API's ``GET /providers``, the CLI's ``providers``), in both modes.

With ``MICROMAILER_REDIS_URL`` set, the scores come straight from the shared board, computed at
Redis's time. Without it, they come from the snapshot the worker publishes to the store (see
:mod:`micromailer.health.snapshots`), computed at this host's time. The store is reached
through a callable, so this package does not depend on ``store/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from micromailer.config import Settings
from micromailer.health.base import ProviderHealth, Strategy
from micromailer.health.redis_board import REDIS_FAILURES
from micromailer.health.redis_states import KEY_PREFIX, RedisStates, redis_client
from micromailer.health.snapshots import ProviderScore, live_scores
from micromailer.health.strategy import make_strategy

#: Loads the health snapshot saved in the store, e.g. ``HealthSnapshotStore.load_health``.
LoadSaved = Callable[[], Sequence[ProviderHealth]]


class BoardUnavailableError(RuntimeError):
    """The shared health board is configured but Redis did not answer: scores are unknown."""


class LiveScoreReader:
    """Reads the live scores again and again over one Redis client (a long-lived reader such
    as the API keeps its connections instead of opening one per read)."""

    def __init__(
        self,
        settings: Settings,
        load_saved: LoadSaved,
        strategy: Strategy | None = None,
        *,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self._names = settings.provider_names()
        self._load_saved = load_saved
        self._strategy = strategy or make_strategy(settings.strategy)
        self._states = (
            RedisStates(redis_client(settings.redis_url, settings.redis_timeout), self._names,
                        prefix=prefix)
            if settings.redis_url else None
        )

    def __call__(self) -> list[ProviderScore]:
        """The configured providers, most preferred first, with their scores right now.

        ``load_saved`` is called only without Redis. Raises :class:`BoardUnavailableError`
        when Redis is configured but unreachable, rather than show every provider as healthy.
        """
        if self._states is None:
            return live_scores(self._names, self._strategy, self._load_saved(), time.time())
        try:
            saved, now = self._states.read()
        except REDIS_FAILURES as exc:
            raise BoardUnavailableError(
                f"the shared health board (Redis) did not answer: {exc}"
            ) from exc
        return live_scores(self._names, self._strategy, saved, now)

    def close(self) -> None:
        if self._states is not None:
            self._states.client.close()


def read_live_scores(
    settings: Settings,
    load_saved: LoadSaved,
    strategy: Strategy | None = None,
    *,
    prefix: str = KEY_PREFIX,
) -> list[ProviderScore]:
    """One reading of the live scores (see :class:`LiveScoreReader`), for one-shot readers
    such as the CLI."""
    reader = LiveScoreReader(settings, load_saved, strategy, prefix=prefix)
    try:
        return reader()
    finally:
        reader.close()


__all__ = ["BoardUnavailableError", "LiveScoreReader", "LoadSaved", "read_live_scores"]
