"""Health strategies (how a score moves) and boards (where scores live)."""

from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.strategy import OriginalStrategy, ProviderHealth, Strategy

__all__ = ["HealthBoard", "MemoryBoard", "OriginalStrategy", "ProviderHealth", "Strategy"]
