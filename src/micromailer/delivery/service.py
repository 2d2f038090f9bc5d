"""Deliver stored emails: claim, run one attempt, record the outcome, plan a retry.

A worker keeps many emails in flight on one event loop (a thread of its own): an email waiting
for its provider holds no thread, and the store sees claims and outcomes in batches (group
commit, ``batching.py``), one round trip and one commit for all the emails that reached the
same step together. The worker hands each message to :meth:`DeliveryService.submit` and
acknowledges it when the returned future completes (``queue/deliver_strategy.py``); Celery's
task threads, which still run delayed retries, call :meth:`DeliveryService.deliver`, which waits.
Either way a message is acknowledged only after its email's outcome is committed.

A test email (sent with a test key) goes through ``test_dispatcher``, whose adapters point at
the sandbox fakes (``sandbox_route.py``); without one, the live dispatcher refuses it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import dataclass

from micromailer.domain.status import Status
from micromailer.logs import email_context
from micromailer.retry import DeliveryRetryPolicy
from micromailer.store.base import UtcClock, utcnow
from micromailer.store.claims import AttemptRecord, Claim, ClaimStore

from .batching import MAX_BATCH, GroupBatcher
from .dispatcher import Dispatch
from .loop_thread import LoopThread
from .metrics import DeliveryMetrics
from .verdict import AttemptReport, Delivered, RetryLater, Undeliverable

log = logging.getLogger(__name__)

#: Publishes ``deliver(email_id)`` to run after a delay in seconds.
ScheduleDelivery = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class Settlement:
    """What an attempt comes to: the record to store, the new status, the retry's delay."""

    record: AttemptRecord
    status: Status
    retry_in: float | None = None


class DeliveryService:
    """The worker's one job, independent of Celery: ``deliver(email_id)``.

    With ``metrics``, a live email's time from acceptance to ``sent`` is observed once its
    outcome is stored.
    """

    def __init__(
        self,
        store: ClaimStore,
        dispatcher: Dispatch,
        schedule: ScheduleDelivery,
        policy: DeliveryRetryPolicy,
        claim_timeout: float,
        max_batch: int = MAX_BATCH,
        store_interval: float = 0.0,
        test_dispatcher: Dispatch | None = None,
        metrics: DeliveryMetrics | None = None,
        clock: UtcClock = utcnow,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._dispatcher = dispatcher
        self._test_dispatcher = test_dispatcher if test_dispatcher is not None else dispatcher
        self._schedule = schedule
        self._policy = policy
        self._claim_timeout = claim_timeout
        self._loop = LoopThread("micromailer-delivery")
        self._claims: GroupBatcher[str, Claim | None] = GroupBatcher(
            self._claim_batch, "micromailer-claim", max_batch, min_interval=store_interval
        )
        self._records: GroupBatcher[AttemptRecord, bool] = GroupBatcher(
            self._record_batch, "micromailer-record", max_batch, min_interval=store_interval
        )

    def deliver(self, email_id: str) -> Status | None:
        """Run one attempt; return the new status, or ``None`` if the email was not ours.

        An email that is final, unknown, held by another worker or not yet due is left alone:
        a task delivered twice sends once. ``None`` too when the attempt outlived its lease and
        another worker claimed the email meanwhile: its outcome is not applied. Blocks until the
        outcome is stored; call it from any thread but the service's own loop.
        """
        return self._loop.run(self.deliver_async(email_id))

    def submit(self, email_id: str) -> concurrent.futures.Future[Status | None]:
        """:meth:`deliver` without waiting: the future completes, in the service's loop
        thread, once the outcome is stored."""
        return self._loop.submit(self.deliver_async(email_id))

    async def deliver_async(self, email_id: str) -> Status | None:
        """:meth:`deliver` on the service's event loop; every line it logs carries
        ``email_id``."""
        with email_context(email_id):
            return await self._deliver(email_id)

    async def _deliver(self, email_id: str) -> Status | None:
        claim = await self._claims.submit(email_id)
        if claim is None:
            log.debug("email %s is not claimable (final, unknown, held or not due); skipped",
                      email_id)
            return None
        message = claim.message
        dispatcher = self._test_dispatcher if message.test else self._dispatcher
        report = await dispatcher.attempt_async(message)
        settlement = self.settle(claim, report)
        if not await self._records.submit(settlement.record):
            return None  # a newer claim has the email: its holder decides what comes next
        if settlement.status is Status.SENT and self._metrics is not None and not message.test:
            self._metrics.email_sent((self._clock() - claim.created_at).total_seconds())
        _log_unsent(settlement, report)
        if settlement.retry_in is not None:
            try:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, self._schedule, email_id, settlement.retry_in)
            except Exception:  # the sweeper republishes it once it is overdue
                log.warning("could not schedule the retry of %s; the sweeper will", email_id)
        return settlement.status

    def settle(self, claim: Claim, report: AttemptReport) -> Settlement:
        """The attempt's outcome: sent, failed for good, or queued again after a delay."""
        email_id, attempt, cycle = claim.message.email_id, claim.attempt_number, claim.cycle
        tries, verdict = report.tries, report.verdict
        if isinstance(verdict, Delivered):
            record = AttemptRecord(email_id, attempt, tries, Status.SENT, None,
                                   provider=verdict.provider,
                                   provider_message_id=verdict.message_id, cycle=cycle)
            return Settlement(record, Status.SENT)
        if isinstance(verdict, Undeliverable):
            record = AttemptRecord(email_id, attempt, tries, Status.FAILED, verdict.error,
                                   cycle=cycle)
            return Settlement(record, Status.FAILED)
        history = attempt_history(claim.previous_error, attempt, verdict.error)
        # The budget is per delivery cycle: a retry by hand starts it again.
        made = claim.attempt_in_cycle
        delay = self._policy.retry_in(made, retry_after=verdict.retry_after)
        if delay is None:
            error = f"gave up after {made} attempts: {history}"
            record = AttemptRecord(email_id, attempt, tries, Status.FAILED, error, cycle=cycle)
            return Settlement(record, Status.FAILED)
        record = self._store.retry_record(email_id, attempt, tries, history, delay, cycle=cycle)
        return Settlement(record, Status.QUEUED, delay)

    # The batches run in their own threads: the store's round trips never stall the event
    # loop. The board learns from each try as it ends (the dispatcher), not here.

    def _claim_batch(self, email_ids: list[str]) -> list[Claim | None]:
        claims = self._store.claim_many(email_ids, self._claim_timeout)
        # an id twice in one batch is claimed once
        return [claims.pop(email_id, None) for email_id in email_ids]

    def _record_batch(self, records: list[AttemptRecord]) -> list[bool]:
        """Store the outcomes; whether each applied (a stale one did not)."""
        return self._store.record(records)

    def close(self) -> None:
        """Stop the event loop, the store's batch threads and the dispatchers'."""
        self._loop.stop()
        self._claims.close()
        self._records.close()
        self._dispatcher.close()
        if self._test_dispatcher is not self._dispatcher:
            self._test_dispatcher.close()


def _log_unsent(settlement: Settlement, report: AttemptReport) -> None:
    """One line for an attempt that sent nothing (a sent email is in the store, not the log):
    this attempt's reasons before a retry, every attempt's once it failed."""
    record, verdict = settlement.record, report.verdict
    if settlement.retry_in is not None and isinstance(verdict, RetryLater):
        log.info("attempt %d sent nothing (%s); next attempt in %.1f s", record.attempt_number,
                 verdict.error, settlement.retry_in)
    elif settlement.status is Status.FAILED:
        log.warning("email failed after attempt %d: %s", record.attempt_number, record.error)


def attempt_history(previous: str | None, attempt: int, reasons: str) -> str:
    """Every failed attempt's reasons, oldest first: ``attempt 1: …; attempt 2: …``."""
    latest = f"attempt {attempt}: {reasons}"
    return f"{previous}; {latest}" if previous else latest


__all__ = ["DeliveryService", "ScheduleDelivery", "Settlement", "attempt_history"]
