"""One try of one callback delivery: claim it, send it, record the outcome, plan the next.

The Celery task ``micromailer.callback(delivery_id)`` calls :meth:`CallbackDeliverer.deliver`.
A failed try is due again after the schedule's next delay: a short one comes back as a task
with a countdown, a long one (beyond :data:`COUNTDOWN_MAX`, which a broker should not hold
unacknowledged for hours) is published by the sweeper once due, as is any whose task is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from micromailer.callbacks.metrics import CallbackMetrics
from micromailer.callbacks.schedule import RetrySchedule
from micromailer.callbacks.sender import CallbackSender, Outgoing
from micromailer.store.callback_deliveries import DELIVERED, FAILED, CallbackDeliveryStore

log = logging.getLogger(__name__)

#: Publishes ``callback(delivery_id)`` to run after a delay in seconds.
ScheduleCallback = Callable[[str, float], None]
#: Longest delay sent as a task countdown; longer ones wait for the sweeper.
COUNTDOWN_MAX = 600.0
#: Seconds a claim holds a delivery beyond its try's timeout.
LEASE_MARGIN = 30.0


class CallbackDeliverer:
    def __init__(
        self,
        store: CallbackDeliveryStore,
        sender: CallbackSender,
        schedule: RetrySchedule,
        publish_later: ScheduleCallback,
        metrics: CallbackMetrics | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._schedule = schedule
        self._publish_later = publish_later
        self._metrics = metrics

    def deliver(self, delivery_id: str) -> str | None:
        """Try the delivery once if it is pending and due; its new status (``delivered``,
        ``pending`` or ``failed``), or ``None`` when it was not ours to try."""
        job = self._store.claim(delivery_id, self._sender.timeout + LEASE_MARGIN)
        if job is None:
            log.debug("callback delivery %s is not due, final or held; skipped", delivery_id)
            return None
        result = self._sender.send(Outgoing(job.id, job.url, job.secret, job.payload))
        retry_in = None if result.delivered else self._schedule.retry_in(job.attempt)
        status = self._store.record(job, result.status_code, result.error, retry_in)
        if status is None:
            return None  # a newer claim holds it
        outcome = status if status in (DELIVERED, FAILED) else "retrying"
        if self._metrics is not None:
            self._metrics.tried(outcome)
        if status == FAILED:
            log.warning("callback delivery %s failed for good after %d tries: %s",
                        delivery_id, job.attempt, result.error)
        elif retry_in is not None:
            log.info("callback delivery %s: try %d failed (%s); next in %.0f s",
                     delivery_id, job.attempt, result.error, retry_in)
            if retry_in <= COUNTDOWN_MAX:
                self._plan(delivery_id, retry_in)
        return status

    def _plan(self, delivery_id: str, delay: float) -> None:
        try:
            self._publish_later(delivery_id, delay)
        except Exception as exc:  # it stays pending: the sweeper publishes it once overdue
            log.warning("could not schedule callback delivery %s (%s); the sweeper will",
                        delivery_id, type(exc).__name__)

    def close(self) -> None:
        self._sender.close()


__all__ = ["COUNTDOWN_MAX", "LEASE_MARGIN", "CallbackDeliverer", "ScheduleCallback"]
