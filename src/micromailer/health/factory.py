"""Which health board a worker gets: shared in Redis when configured, else in its memory."""

from __future__ import annotations

from collections.abc import Sequence

from micromailer.config import Settings
from micromailer.health.base import Strategy, base_scores
from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.redis_board import RedisBoard, as_stepped


def make_board(settings: Settings, names: Sequence[str], strategy: Strategy) -> HealthBoard:
    """A :class:`RedisBoard` when ``settings.redis_url`` is set, else a :class:`MemoryBoard`.

    ``names`` are the providers in preference order; their base scores follow that order.
    """
    bases = base_scores(list(names))
    if not settings.redis_url:
        return MemoryBoard(strategy, bases)
    return RedisBoard.from_url(
        settings.redis_url,
        as_stepped(strategy),
        bases,
        timeout=settings.redis_timeout,
        retry_interval=settings.redis_retry_interval,
    )


__all__ = ["make_board"]
