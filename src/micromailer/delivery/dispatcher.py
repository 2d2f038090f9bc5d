"""One delivery attempt: try the providers in score order, fail over, classify, learn."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.message import Message
from micromailer.domain.status import Outcome
from micromailer.health.board import HealthBoard
from micromailer.providers.base import ProviderAdapter
from micromailer.providers.errors import (
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    TransientError,
)
from micromailer.store.repository import UtcClock, utcnow

from .verdict import AttemptReport, Delivered, RetryLater, Undeliverable

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends a message through the healthiest provider, failing over to the next.

    How each answer is treated:

    - accepted → the board records a success; the attempt is over.
    - transient (server error, rate limit, auth, network) → the board records a failure;
      try the next provider. If all fail so, the attempt ends in :class:`RetryLater`.
    - request rejected as malformed → the next provider, health untouched. Final only when
      every provider rejected it.
    - recipient rejected → final at once, without burning the other providers.
    """

    def __init__(
        self,
        adapters: Sequence[ProviderAdapter],
        board: HealthBoard,
        clock: UtcClock = utcnow,
    ) -> None:
        self._adapters = {adapter.name: adapter for adapter in adapters}
        self._board = board
        self._clock = clock

    def attempt(self, message: Message) -> AttemptReport:
        tries: list[ProviderTry] = []
        retry_after: float | None = None
        any_transient = False
        for name in self._board.ranked():
            adapter = self._adapters.get(name)
            if adapter is None:
                continue
            started = self._clock()
            try:
                result = adapter.send(message)
            except ProviderError as error:
                tries.append(self._failed_try(name, started, error))
                if isinstance(error, RecipientRejectedError):
                    return AttemptReport(tries, Undeliverable(error.describe()))
                if error.counts_against_health:
                    self._board.record_failure(name)
                if isinstance(error, TransientError):
                    any_transient = True
                if isinstance(error, RateLimitedError) and error.retry_after is not None:
                    retry_after = max(retry_after or 0.0, error.retry_after)
                continue
            except Exception as exc:  # an adapter bug must not lose the email
                log.exception("provider %s raised an unexpected error", name)
                self._board.record_failure(name)
                any_transient = True
                tries.append(
                    ProviderTry(name, started, self._clock(), Outcome.FAILED, None,
                                f"{name}: internal error: {type(exc).__name__}")
                )
                continue
            self._board.record_success(name)
            tries.append(ProviderTry(name, started, self._clock(), Outcome.SENT))
            return AttemptReport(tries, Delivered(result.provider, result.message_id))
        return AttemptReport(tries, self._no_provider_accepted(tries, any_transient, retry_after))

    def _failed_try(self, name: str, started: datetime, error: ProviderError) -> ProviderTry:
        outcome = (
            Outcome.RECIPIENT_REJECTED if isinstance(error, RecipientRejectedError)
            else Outcome.FAILED if error.transient
            else Outcome.REJECTED
        )
        return ProviderTry(
            name, started, self._clock(), outcome, error.status_code, error.describe()
        )

    @staticmethod
    def _no_provider_accepted(
        tries: list[ProviderTry], any_transient: bool, retry_after: float | None
    ) -> RetryLater | Undeliverable:
        if not tries:
            return RetryLater("no provider is configured")
        reasons = "; ".join(attempt.error or attempt.provider for attempt in tries)
        if any_transient:
            return RetryLater(reasons, retry_after)
        return Undeliverable(f"every provider rejected the request: {reasons}")


__all__ = ["Dispatcher"]
