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
from micromailer.health.redis_board import REDIS_FAILURES
from micromailer.health.redis_states import KEY_PREFIX, RedisStates, redis_client
from micromailer.health.snapshots import ProviderScore, live_scores
from micromailer.health.strategy import ProviderHealth, Strategy, make_strategy

#: Loads the health snapshot saved in the store, e.g. ``EmailStore.load_health``.
LoadSaved = Callable[[], Sequence[ProviderHealth]]


class BoardUnavailableError(RuntimeError):
    """The shared health board is configured but Redis did not answer: scores are unknown."""


def read_live_scores(
    settings: Settings,
    load_saved: LoadSaved,
    strategy: Strategy | None = None,
    *,
    prefix: str = KEY_PREFIX,
) -> list[ProviderScore]:
    """The configured providers, most preferred first, with their scores right now.

    ``load_saved`` is called only without Redis. Raises :class:`BoardUnavailableError` when
    Redis is configured but unreachable, rather than show every provider as healthy.
    """
    strategy = strategy or make_strategy(settings.strategy)
    names = settings.provider_names()
    if not settings.redis_url:
        return live_scores(names, strategy, load_saved(), time.time())
    client = redis_client(settings.redis_url, settings.redis_timeout)
    try:
        saved, now = RedisStates(client, names, prefix=prefix).read()
    except REDIS_FAILURES as exc:
        raise BoardUnavailableError(
            f"the shared health board (Redis) did not answer: {exc}"
        ) from exc
    finally:
        client.close()
    return live_scores(names, strategy, saved, now)


__all__ = ["BoardUnavailableError", "LoadSaved", "read_live_scores"]
