"""What one delivery attempt came to."""

from __future__ import annotations

from dataclasses import dataclass

from micromailer.domain.attempt import ProviderTry


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


__all__ = ["AttemptReport", "Delivered", "RetryLater", "Undeliverable", "Verdict"]
