"""Health strategies (how a score moves) and boards (where scores live)."""

from micromailer.health.base import HealthStep, ProviderHealth, SteppedStrategy, Strategy
from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.factory import make_board
from micromailer.health.lesson import Lesson
from micromailer.health.live import BoardUnavailableError, read_live_scores
from micromailer.health.original import OriginalStrategy
from micromailer.health.priority import PriorityStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.health.strategy import make_strategy

__all__ = [
    "BoardUnavailableError",
    "BreakerStrategy",
    "HealthBoard",
    "HealthStep",
    "Lesson",
    "MemoryBoard",
    "OriginalStrategy",
    "PriorityStrategy",
    "ProviderHealth",
    "RedisBoard",
    "SteppedStrategy",
    "Strategy",
    "make_board",
    "make_strategy",
    "read_live_scores",
]
