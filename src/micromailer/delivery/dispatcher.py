"""One delivery attempt: rank the providers, try them in order, fail over, classify, learn."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.message import Message
from micromailer.domain.status import Outcome
from micromailer.health.board import HealthBoard
from micromailer.health.lesson import Lesson
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.capabilities import nobody_can_carry
from micromailer.providers.errors import (
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    TransientError,
)
from micromailer.store.base import UtcClock, utcnow

from .loop_board import LoopBoard, OnLearn
from .metrics import DeliveryMetrics
from .verdict import AttemptReport, Delivered, RetryLater, Undeliverable, Verdict

log = logging.getLogger(__name__)


class Dispatch(Protocol):
    """What the delivery service needs of a dispatcher: one attempt, and closing."""

    async def attempt_async(self, message: Message) -> AttemptReport: ...

    def close(self) -> None: ...


class Dispatcher:
    """Sends a message through the healthiest provider, failing over to the next.

    The providers are ranked on the board when the attempt starts, and the board learns from
    each try as soon as it ends, so an attempt that starts after a failure already avoids the
    failing provider. How each answer is treated:

    - accepted → the board records a success; the attempt is over.
    - transient (server error, rate limit, auth, account, network) → the board records a
      failure; try the next provider. If all fail so, the attempt ends in :class:`RetryLater`.
    - recipient deferred (a soft bounce) → the same, but the board learns nothing.
    - request rejected as malformed → the next provider, health untouched. Final only when
      every provider rejected it.
    - recipient rejected → final at once, without burning the other providers.

    A dispatcher carries either live emails or test emails (``test_traffic``: its adapters
    point at the sandbox fakes), never both: a message of the other kind is refused before any
    adapter sees it, so a test email can never reach a real provider by mistake.

    With ``metrics``, each try's duration is observed by provider and outcome as it ends.
    """

    def __init__(
        self,
        adapters: Sequence[ProviderAdapter],
        board: HealthBoard,
        clock: UtcClock = utcnow,
        *,
        on_learn: OnLearn | None = None,
        test_traffic: bool = False,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self._adapters = {adapter.name: adapter for adapter in adapters}
        self._test_traffic = test_traffic
        self._metrics = metrics
        self._board = board
        self._clock = clock
        self._loop_board = LoopBoard(board, on_learn)

    def rank(self) -> list[str]:
        """Provider names, best score first."""
        return self._board.ranked()

    def attempt(self, message: Message) -> AttemptReport:
        """One attempt, sending with the adapters' blocking ``send``."""
        if bool(message.test) != self._test_traffic:
            return self._refused(message)
        run = _Attempt(self._adapters, self.rank(), message, self._clock, self._metrics)
        for name, adapter in run.candidates():
            started = self._clock()
            try:
                answer: SendResult | Exception = adapter.send(message)
            except Exception as exc:
                answer = exc
            lesson = run.ended(name, started, answer)
            if lesson is not None:
                self._loop_board.learn_now(lesson)
        return run.report()

    async def attempt_async(self, message: Message) -> AttemptReport:
        """The same attempt on an event loop; a shared board is reached off the loop
        (:class:`~micromailer.delivery.loop_board.LoopBoard`)."""
        if bool(message.test) != self._test_traffic:
            return self._refused(message)
        run = _Attempt(
            self._adapters, await self._loop_board.ranked(), message, self._clock, self._metrics
        )
        for name, adapter in run.candidates():
            started = self._clock()
            try:
                answer: SendResult | Exception = await adapter.send_async(message)
            except Exception as exc:
                answer = exc
            lesson = run.ended(name, started, answer)
            if lesson is not None:
                await self._loop_board.learn(lesson)
        return run.report()

    def _refused(self, message: Message) -> AttemptReport:
        """The report for a message of the other kind: failed, no provider tried."""
        log.error("email %s reached the %s providers' dispatcher; refused", message.email_id,
                  "test" if self._test_traffic else "live", extra={"email_id": message.email_id})
        error = (
            "a live email never goes to the sandbox fakes" if self._test_traffic
            else "a test email never goes to a real provider, and this worker has no sandbox "
            "for it"
        )
        return AttemptReport([], Undeliverable(error))

    def close(self) -> None:
        """Stop the thread that reaches a shared board from the event loop."""
        self._loop_board.close()


class _Attempt:
    """The rules of one attempt, apart from how a provider is called and how the board is
    reached: the order, what each answer means for the board and for the email, the verdict."""

    def __init__(
        self, adapters: dict[str, ProviderAdapter], ranking: Sequence[str], message: Message,
        clock: UtcClock, metrics: DeliveryMetrics | None = None,
    ) -> None:
        self._adapters = adapters
        self._ranking = ranking
        self._message = message
        #: Why each provider skipped could not carry the message.
        self._cannot_carry: list[str] = []
        self._clock = clock
        self._metrics = metrics
        self.tries: list[ProviderTry] = []
        self._retry_after: float | None = None
        self._any_transient = False
        self._verdict: Verdict | None = None

    def candidates(self) -> Iterator[tuple[str, ProviderAdapter]]:
        """The providers to try, in order, until one answer ends the attempt."""
        for name in self._ranking:
            if self._verdict is not None:
                return
            adapter = self._adapters.get(name)
            if adapter is None:
                continue
            why_not = adapter.capabilities.refusal(self._message)
            if why_not is not None:  # tried, it would be refused: another provider may carry it
                self._cannot_carry.append(f"{name} {why_not}")
                continue
            yield name, adapter

    def ended(self, name: str, started: datetime, answer: SendResult | Exception) -> Lesson | None:
        """Record a try that began at ``started``; return what it teaches the board, if
        anything."""
        finished = self._clock()
        if isinstance(answer, SendResult):
            self._add(ProviderTry(name, started, finished, Outcome.SENT))
            self._verdict = Delivered(answer.provider, answer.message_id)
            return Lesson(name, True)
        if not isinstance(answer, ProviderError):  # an adapter bug must not lose the email
            log.error("provider %s raised an unexpected error", name, exc_info=answer)
            self._any_transient = True
            self._add(
                ProviderTry(name, started, finished, Outcome.FAILED, None,
                            f"{name}: internal error: {type(answer).__name__}")
            )
            return Lesson(name, False)
        self._add(self._failed_try(name, started, finished, answer))
        if isinstance(answer, RecipientRejectedError):
            self._verdict = Undeliverable(answer.describe())
            return None
        retry_after = answer.retry_after if isinstance(answer, RateLimitedError) else None
        if isinstance(answer, TransientError):
            self._any_transient = True
        if retry_after is not None:
            self._retry_after = max(self._retry_after or 0.0, retry_after)
        return Lesson(name, False, retry_after) if answer.counts_against_health else None

    def _add(self, provider_try: ProviderTry) -> None:
        self.tries.append(provider_try)
        if self._metrics is not None:
            seconds = (provider_try.finished_at - provider_try.started_at).total_seconds()
            self._metrics.provider_answered(provider_try.provider, provider_try.outcome, seconds)

    def report(self) -> AttemptReport:
        verdict = self._verdict if self._verdict is not None else self._no_provider_accepted()
        return AttemptReport(self.tries, verdict)

    def _failed_try(
        self, name: str, started: datetime, finished: datetime, error: ProviderError
    ) -> ProviderTry:
        outcome = (
            Outcome.RECIPIENT_REJECTED if isinstance(error, RecipientRejectedError)
            else Outcome.FAILED if error.transient
            else Outcome.REJECTED
        )
        return ProviderTry(name, started, finished, outcome, error.status_code, error.describe())

    def _no_provider_accepted(self) -> RetryLater | Undeliverable:
        if not self.tries and self._cannot_carry:
            return Undeliverable(nobody_can_carry(self._cannot_carry))
        if not self.tries:
            return RetryLater("no provider is configured")
        reasons = "; ".join(attempt.error or attempt.provider for attempt in self.tries)
        if self._any_transient:
            return RetryLater(reasons, self._retry_after)
        return Undeliverable(f"every provider rejected the request: {reasons}")


__all__ = ["Dispatch", "Dispatcher"]
