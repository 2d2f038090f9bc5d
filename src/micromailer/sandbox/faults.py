"""Fault settings of one fake provider (failure rate, status, latency) and their dice."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Upper bound of ``latencyMs``: two minutes is longer than any client timeout worth testing.
MAX_LATENCY_MS = 120_000


class FaultSettings(BaseModel):
    """What ``PUT /_sandbox/{provider}/faults`` sets; missing fields take these defaults."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, frozen=True)

    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="failRate")
    status: int = Field(default=503, ge=400, le=599)
    latency_ms: float = Field(default=0.0, ge=0.0, le=MAX_LATENCY_MS, alias="latencyMs")
    retry_after: float | None = Field(default=None, ge=0.0, alias="retryAfter")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class FaultInputError(ValueError):
    """A faults body the sandbox refuses; ``str(error)`` is one sentence for the caller."""


def parse_fault_settings(data: Any) -> FaultSettings:
    """Validate a faults body; ``{}`` means no faults. Raises :class:`FaultInputError`."""
    if not isinstance(data, dict):
        raise FaultInputError(
            'The faults body must be a JSON object such as {"failRate": 0.5, "status": 503}.'
        )
    try:
        return FaultSettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            raise FaultInputError(
                f"Unknown fault setting {field!r}; "
                "expected failRate, status, latencyMs, retryAfter."
            ) from None
        message = error["msg"][:1].lower() + error["msg"][1:]
        raise FaultInputError(f"Invalid fault setting {field!r}: {message}.") from None


class FaultInjector:
    """Applies one provider's fault settings: latency on every send, failure with the dice."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.settings = FaultSettings()

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings

    def clear(self) -> None:
        self.settings = FaultSettings()

    async def delay(self) -> None:
        """Wait ``latencyMs`` (every send request pays it, failing or not)."""
        if self.settings.latency_ms > 0:
            await asyncio.sleep(self.settings.latency_ms / 1000)

    def roll(self) -> FaultSettings | None:
        """The settings when this request must fail, ``None`` when it goes through."""
        settings = self.settings
        if settings.fail_rate <= 0.0:
            return None
        if settings.fail_rate >= 1.0 or self._rng.random() < settings.fail_rate:
            return settings
        return None


__all__ = [
    "MAX_LATENCY_MS",
    "FaultInjector",
    "FaultInputError",
    "FaultSettings",
    "parse_fault_settings",
]
