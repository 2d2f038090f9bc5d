"""Health strategies (how a score moves) and boards (where scores live)."""

from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.factory import make_board
from micromailer.health.live import BoardUnavailableError, read_live_scores
from micromailer.health.redis_board import RedisBoard
from micromailer.health.strategy import (
    HealthStep,
    OriginalStrategy,
    ProviderHealth,
    SteppedStrategy,
    Strategy,
)

__all__ = [
    "BoardUnavailableError",
    "HealthBoard",
    "HealthStep",
    "MemoryBoard",
    "OriginalStrategy",
    "ProviderHealth",
    "RedisBoard",
    "SteppedStrategy",
    "Strategy",
    "make_board",
    "read_live_scores",
]
