"""The sweeper: republish emails, and callback deliveries, a worker should have taken by now.

A broker outage, a lost message or a killed worker delays an email or a callback; the sweeper
makes sure it never loses one. It runs as a daemon thread in every worker process; the store's
conditional update makes two sweepers never republish the same one in one period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from micromailer.delivery.pipeline import PublishMany

log = logging.getLogger(__name__)


#: Emails re-armed and republished together (one wait for the broker's confirms).
SWEEP_BATCH = 500


class Sweeps(Protocol):
    """A store's sweep: ids overdue by ``sweep_after`` seconds, re-armed (``store/sweep.py``,
    ``store/callback_deliveries.py``)."""

    def sweep(self, sweep_after: float, limit: int = ...) -> list[str]: ...


def sweep_once(
    store: Sweeps, publish_many: PublishMany, sweep_after: float, what: str = "email"
) -> int:
    """Re-arm and republish every stale email (or ``what`` the store holds), a batch at a
    time; return how many.

    After a broker outage the backlog can be large: it goes out in batches with one wait for
    confirms each, not one round trip per email. A batch that cannot be published stays
    re-armed (due now), so a later sweep publishes it again.
    """
    total = 0
    while True:
        swept = store.sweep(sweep_after, limit=SWEEP_BATCH)
        if not swept:
            break
        try:
            publish_many(swept)
        except Exception as exc:  # still stored and due: a later sweep tries again
            log.warning("could not republish %d stale %s(s): %s", len(swept), what, exc)
            break
        total += len(swept)
        if len(swept) < SWEEP_BATCH:
            break
    if total:
        log.info("sweeper republished %d stale %s(s)", total, what)
    return total


class Sweeper(threading.Thread):
    """Every ``interval`` seconds, sweeps the emails, then runs each of ``also`` (the
    callback deliveries' pass)."""

    def __init__(
        self,
        store: Sweeps,
        publish_many: PublishMany,
        *,
        sweep_after: float,
        interval: float,
        also: Sequence[Callable[[], int]] = (),
    ) -> None:
        super().__init__(name="micromailer-sweeper", daemon=True)
        self._passes: list[Callable[[], int]] = [
            partial(sweep_once, store, publish_many, sweep_after), *also
        ]
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            for one_pass in self._passes:
                try:
                    one_pass()
                except Exception as exc:  # the store may be down for a while; keep sweeping
                    log.warning("sweep failed: %s", exc)

    def stop(self) -> None:
        self._stopped.set()


__all__ = ["SWEEP_BATCH", "Sweeper", "Sweeps", "sweep_once"]
