"""What one delivery attempt came to."""

from __future__ import annotations

from dataclasses import dataclass

from micromailer.domain.attempt import ProviderTry
from micromailer.health.lesson import Lesson


@dataclass(frozen=True, slots=True)
class Delivered:
    provider: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Every provider failed in a way that may pass."""

    error: str
    #: The longest wait a provider asked for (Retry-After), if any.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """Final: the recipient was refused, or every provider refused the request."""

    error: str


Verdict = Delivered | RetryLater | Undeliverable


@dataclass(frozen=True, slots=True)
class AttemptReport:
    tries: list[ProviderTry]
    verdict: Verdict
    #: Lessons not yet given to the board (an attempt on the event loop leaves them here).
    lessons: tuple[Lesson, ...] = ()


__all__ = ["AttemptReport", "Delivered", "Lesson", "RetryLater", "Undeliverable", "Verdict"]
