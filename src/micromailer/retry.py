"""Retry policy, in one place: what micromailer tries again, how far apart, and when it stops.

- :class:`DeliveryRetryPolicy`: an attempt whose providers all failed transiently comes back as a
  deliver task with a countdown, ``MICROMAILER_RETRY_DELAY`` (10 s) doubling, ±20 %, at most
  ``…_RETRY_DELAY_MAX``, never before a ``Retry-After``; ``failed`` after ``…_MAX_ATTEMPTS``.
- :data:`RECORD_RETRY`: an outcome the store could not take is written again, 0.1 s doubling to
  2 s, for 30 s; then the lease runs out and the email is sent again.
- :data:`TASK_STORE_DOWN_RETRY`: a deliver task whose store was unreachable runs again through
  Celery's task retry, 1 s doubling to 30 s, ±20 %, 50 times; then the sweeper republishes it.
- :data:`PUBLISH_RETRY_POLICY`: publishing a deliver task (kombu's ``retry_policy``) is tried
  three times, 0.1 s, 0.3 s, 0.5 s apart; then the email stays ``queued`` for the sweeper.

Every exponential spacing is :func:`backoff_delay`. Nothing here imports the rest of micromailer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Errors that mean the store is unreachable (as opposed to a statement it refused).
STORE_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

_JITTER = random.Random()


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.2,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (1-based).

    ``base`` after the first, doubling after each further one, spread by ±``jitter`` so a burst
    of failures does not come back as a burst, never more than ``cap``; at least
    ``retry_after`` when the other side asked for it (even above ``cap``).
    """
    exponential = min(cap, base * 2.0 ** max(0, failures - 1))
    spread = (rng or _JITTER).uniform(1.0 - jitter, 1.0 + jitter) if jitter else 1.0
    delay = min(cap, exponential * spread)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True, slots=True)
class Backoff:
    """:func:`backoff_delay` with its parameters fixed."""

    base: float
    cap: float
    jitter: float = 0.2

    def delay(
        self, failures: int, *, retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        return backoff_delay(failures, base=self.base, cap=self.cap, jitter=self.jitter,
                             retry_after=retry_after, rng=rng)


@dataclass(frozen=True, slots=True)
class DeliveryRetryPolicy:
    """How often an email is attempted, and how long it waits between attempts (settings
    ``MICROMAILER_MAX_ATTEMPTS``, ``…_RETRY_DELAY``, ``…_RETRY_DELAY_MAX``)."""

    max_attempts: int = 3
    delay: float = 10.0
    delay_max: float = 600.0

    def retry_in(
        self, attempt_number: int, *, retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds until the next attempt after attempt ``attempt_number`` (1-based) failed
        transiently, or ``None`` when it was the last one allowed."""
        if attempt_number >= self.max_attempts:
            return None
        return backoff_delay(attempt_number, base=self.delay, cap=self.delay_max,
                             retry_after=retry_after, rng=rng)


@dataclass(frozen=True, slots=True)
class PatientRetry:
    """Try an operation again, in the calling thread, while it fails with ``retry_on``, for
    up to ``patience`` seconds in all."""

    backoff: Backoff
    patience: float

    def call(
        self, operation: Callable[[], T], retry_on: tuple[type[Exception], ...], what: str,
        *, sleep: Callable[[float], Any] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> T:
        """``operation()``, tried again after each failure; the last failure is raised once
        the next pause would end past the patience. ``what`` names it in the log."""
        deadline = monotonic() + self.patience
        failures = 0
        while True:
            try:
                return operation()
            except retry_on as exc:
                failures += 1
                pause = self.backoff.delay(failures)
                if monotonic() + pause > deadline:
                    raise
                log.warning("%s failed (%s); trying again in %.1f s", what,
                            type(exc).__name__, pause)
                sleep(pause)


@dataclass(frozen=True, slots=True)
class TaskRetry:
    """A Celery task retried with a countdown from ``backoff``, at most ``max_retries`` times."""

    backoff: Backoff
    max_retries: int

    def countdown(self, retries_so_far: int) -> float:
        """Seconds before the next run of a task that has been retried ``retries_so_far``
        times (Celery's ``request.retries``)."""
        return self.backoff.delay(retries_so_far + 1)


#: The providers have answered: losing this write would send the emails again once their
#: leases run out, so a short store outage is ridden out (no jitter: one thread waits).
RECORD_RETRY = PatientRetry(Backoff(base=0.1, cap=2.0, jitter=0.0), patience=30.0)

#: A deliver task whose store was unreachable comes back soon, rather than wait for the sweeper.
TASK_STORE_DOWN_RETRY = TaskRetry(Backoff(base=1.0, cap=30.0), max_retries=50)

#: Publishing gives up quickly: an email is committed before it is published, and the
#: sweeper republishes what could not be, so a broker outage must not hang ``POST /email``.
PUBLISH_RETRY_POLICY: dict[str, float] = {
    "max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5,
}


__all__ = [
    "PUBLISH_RETRY_POLICY",
    "RECORD_RETRY",
    "STORE_UNREACHABLE",
    "TASK_STORE_DOWN_RETRY",
    "Backoff",
    "DeliveryRetryPolicy",
    "PatientRetry",
    "TaskRetry",
    "backoff_delay",
]
