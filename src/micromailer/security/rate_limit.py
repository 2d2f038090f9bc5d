"""Per-key rate limits (``MICROMAILER_RATE_LIMIT``): not yet enforced."""

from __future__ import annotations

from dataclasses import dataclass, field

from micromailer.config import Settings
from micromailer.security.principal import Principal


@dataclass(frozen=True, slots=True)
class RateVerdict:
    """Whether a request may go on, and the headers that tell the client its budget."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Counts each key's requests against its limit."""

    async def hit(self, principal: Principal, client: str | None) -> RateVerdict | None:
        """Count one request; ``None`` when no limit applies."""
        return None

    async def close(self) -> None:
        """Release the limiter's connections."""


def build_rate_limiter(settings: Settings) -> RateLimiter:
    return RateLimiter()


__all__ = ["RateLimiter", "RateVerdict", "build_rate_limiter"]
