"""One delivery attempt: try the providers in score order, fail over, classify, learn."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
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

from .verdict import AttemptReport, Delivered, Lesson, RetryLater, Undeliverable, Verdict

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends a message through the healthiest provider, failing over to the next.

    How each answer is treated:

    - accepted → the board records a success; the attempt is over.
    - transient (server error, rate limit, auth, account, network) → the board records a
      failure; try the next provider. If all fail so, the attempt ends in :class:`RetryLater`.
    - recipient deferred (a soft bounce) → the same, but the board learns nothing.
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

    def rank(self) -> list[str]:
        """Provider names, best score first."""
        return self._board.ranked()

    def learn(self, lessons: Iterable[Lesson]) -> None:
        """Tell the board what the tries of an attempt taught (see :meth:`attempt_async`)."""
        self._board.record_many(lessons)

    def attempt(self, message: Message) -> AttemptReport:
        """One attempt, sending with the adapters' blocking ``send``; the board learns from
        each try as it ends."""
        run = _Attempt(self, self.rank(), learn_now=True)
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

    async def attempt_async(self, message: Message, ranking: Sequence[str]) -> AttemptReport:
        """The same attempt on an event loop, in the order ``ranking`` gives (from
        :meth:`rank`). The board is not called here, so a shared board's round trips never
        stall the loop: the report's ``lessons`` are for :meth:`learn`, off the loop."""
        run = _Attempt(self, ranking, learn_now=False)
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

    def __init__(self, dispatcher: Dispatcher, ranking: Sequence[str], learn_now: bool) -> None:
        self._dispatcher = dispatcher
        self._ranking = ranking
        self._learn_now = learn_now
        self._clock = dispatcher._clock
        self.lessons: list[Lesson] = []
        self.tries: list[ProviderTry] = []
        self._retry_after: float | None = None
        self._any_transient = False
        self._verdict: Verdict | None = None

    def candidates(self) -> Iterator[tuple[str, ProviderAdapter]]:
        adapters = self._dispatcher._adapters
        for name in self._ranking:
            adapter = adapters.get(name)
            if adapter is not None:
                yield name, adapter

    def succeeded(self, name: str, started: datetime, result: SendResult) -> None:
        self._learn(name, succeeded=True)
        self.tries.append(ProviderTry(name, started, self._clock(), Outcome.SENT))
        self._verdict = Delivered(result.provider, result.message_id)

    def failed(self, name: str, started: datetime, exc: Exception) -> bool:
        """Record a failed try; ``True`` when the attempt must stop here."""
        if not isinstance(exc, ProviderError):  # an adapter bug must not lose the email
            log.error("provider %s raised an unexpected error", name, exc_info=exc)
            self._learn(name, succeeded=False)
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
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        if exc.counts_against_health:
            self._learn(name, succeeded=False, retry_after=retry_after)
        if isinstance(exc, TransientError):
            self._any_transient = True
        if retry_after is not None:
            self._retry_after = max(self._retry_after or 0.0, retry_after)
        return False

    def _learn(self, name: str, *, succeeded: bool, retry_after: float | None = None) -> None:
        lesson = Lesson(name, succeeded, retry_after)
        if self._learn_now:
            self._dispatcher.learn([lesson])
        else:
            self.lessons.append(lesson)

    def report(self) -> AttemptReport:
        verdict = self._verdict if self._verdict is not None else self._no_provider_accepted()
        return AttemptReport(self.tries, verdict, tuple(self.lessons))

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
