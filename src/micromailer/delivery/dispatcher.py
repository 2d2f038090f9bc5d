"""One delivery attempt: try the providers in score order, fail over, classify, learn."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.message import Message
from micromailer.domain.status import Outcome
from micromailer.health.board import HealthBoard
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.errors import (
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    TransientError,
)
from micromailer.store.repository import UtcClock, utcnow

from .verdict import AttemptReport, Delivered, RetryLater, Undeliverable, Verdict

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
        """One attempt, sending with the adapters' blocking ``send``."""
        run = _Attempt(self)
        for name, adapter in run.candidates():
            started = self._clock()
            try:
                result = adapter.send(message)
            except Exception as exc:
                if run.failed(name, started, exc):
                    break
                continue
            run.succeeded(name, started, result)
            break
        return run.report()

    async def attempt_async(self, message: Message) -> AttemptReport:
        """The same attempt, sending with the adapters' ``send_async`` (the worker's way)."""
        run = _Attempt(self)
        for name, adapter in run.candidates():
            started = self._clock()
            try:
                result = await adapter.send_async(message)
            except Exception as exc:
                if run.failed(name, started, exc):
                    break
                continue
            run.succeeded(name, started, result)
            break
        return run.report()


class _Attempt:
    """The rules of one attempt, apart from how a provider is called: the order, what each
    answer means for the board and for the email, and the verdict."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._board = dispatcher._board
        self._clock = dispatcher._clock
        self.tries: list[ProviderTry] = []
        self._retry_after: float | None = None
        self._any_transient = False
        self._verdict: Verdict | None = None

    def candidates(self) -> Iterator[tuple[str, ProviderAdapter]]:
        adapters = self._dispatcher._adapters
        for name in self._board.ranked():
            adapter = adapters.get(name)
            if adapter is not None:
                yield name, adapter

    def succeeded(self, name: str, started: datetime, result: SendResult) -> None:
        self._board.record_success(name)
        self.tries.append(ProviderTry(name, started, self._clock(), Outcome.SENT))
        self._verdict = Delivered(result.provider, result.message_id)

    def failed(self, name: str, started: datetime, exc: Exception) -> bool:
        """Record a failed try; ``True`` when the attempt must stop here."""
        if not isinstance(exc, ProviderError):  # an adapter bug must not lose the email
            log.error("provider %s raised an unexpected error", name, exc_info=exc)
            self._board.record_failure(name)
            self._any_transient = True
            self.tries.append(
                ProviderTry(name, started, self._clock(), Outcome.FAILED, None,
                            f"{name}: internal error: {type(exc).__name__}")
            )
            return False
        self.tries.append(self._failed_try(name, started, exc))
        if isinstance(exc, RecipientRejectedError):
            self._verdict = Undeliverable(exc.describe())
            return True
        if exc.counts_against_health:
            self._board.record_failure(name)
        if isinstance(exc, TransientError):
            self._any_transient = True
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            self._retry_after = max(self._retry_after or 0.0, exc.retry_after)
        return False

    def report(self) -> AttemptReport:
        if self._verdict is not None:
            return AttemptReport(self.tries, self._verdict)
        return AttemptReport(self.tries, self._no_provider_accepted())

    def _failed_try(self, name: str, started: datetime, error: ProviderError) -> ProviderTry:
        outcome = (
            Outcome.RECIPIENT_REJECTED if isinstance(error, RecipientRejectedError)
            else Outcome.FAILED if error.transient
            else Outcome.REJECTED
        )
        return ProviderTry(
            name, started, self._clock(), outcome, error.status_code, error.describe()
        )

    def _no_provider_accepted(self) -> RetryLater | Undeliverable:
        if not self.tries:
            return RetryLater("no provider is configured")
        reasons = "; ".join(attempt.error or attempt.provider for attempt in self.tries)
        if self._any_transient:
            return RetryLater(reasons, self._retry_after)
        return Undeliverable(f"every provider rejected the request: {reasons}")


__all__ = ["Dispatcher"]
