"""Deliver one stored email: claim it, run one attempt, record the outcome, plan a retry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Status
from micromailer.store.repository import EmailStore

from .backoff import retry_delay
from .dispatcher import Dispatcher
from .verdict import Delivered, RetryLater, Undeliverable

log = logging.getLogger(__name__)

#: Publishes ``deliver(email_id)`` to run after a delay in seconds.
ScheduleDelivery = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    delay: float = 10.0
    delay_max: float = 600.0


class DeliveryService:
    """The worker's one job, independent of Celery: ``deliver(email_id)``."""

    def __init__(
        self,
        store: EmailStore,
        dispatcher: Dispatcher,
        schedule: ScheduleDelivery,
        policy: RetryPolicy,
        claim_timeout: float,
        on_attempt: Callable[[], object] | None = None,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._schedule = schedule
        self._policy = policy
        self._claim_timeout = claim_timeout
        self._on_attempt = on_attempt

    def deliver(self, email_id: str) -> Status | None:
        """Run one attempt; return the new status, or ``None`` if the email was not ours.

        An email that is final, unknown, or held by another worker is left alone: a task
        delivered twice sends once.
        """
        claim = self._store.claim(email_id, self._claim_timeout)
        if claim is None:
            log.debug("email %s is not claimable (final, unknown or held); skipped", email_id)
            return None
        attempt = claim.attempt_number
        report = self._dispatcher.attempt(claim.message)
        verdict = report.verdict
        try:
            if isinstance(verdict, Delivered):
                self._store.mark_sent(
                    email_id, attempt, report.tries, verdict.provider, verdict.message_id
                )
                return Status.SENT
            if isinstance(verdict, Undeliverable):
                self._store.mark_failed(email_id, attempt, report.tries, verdict.error)
                return Status.FAILED
            history = attempt_history(claim.previous_error, attempt, verdict.error)
            return self._retry_or_fail(email_id, attempt, report.tries, verdict, history)
        finally:
            if self._on_attempt is not None:
                self._on_attempt()

    def _retry_or_fail(
        self, email_id: str, attempt: int, tries: list[ProviderTry], verdict: RetryLater,
        history: str,
    ) -> Status:
        if attempt >= self._policy.max_attempts:
            error = f"gave up after {attempt} attempts: {history}"
            self._store.mark_failed(email_id, attempt, tries, error)
            return Status.FAILED
        delay = retry_delay(
            attempt,
            base=self._policy.delay,
            cap=self._policy.delay_max,
            retry_after=verdict.retry_after,
        )
        self._store.schedule_retry(email_id, attempt, tries, history, delay)
        try:
            self._schedule(email_id, delay)
        except Exception:  # the sweeper republishes it once it is overdue
            log.warning("could not schedule the retry of %s; the sweeper will", email_id)
        return Status.QUEUED


def attempt_history(previous: str | None, attempt: int, reasons: str) -> str:
    """Every failed attempt's reasons, oldest first: ``attempt 1: …; attempt 2: …``."""
    latest = f"attempt {attempt}: {reasons}"
    return f"{previous}; {latest}" if previous else latest


__all__ = ["DeliveryService", "RetryPolicy", "ScheduleDelivery", "attempt_history"]
