"""The sweeper: republish emails a worker should have picked up by now.

A broker outage, a lost message or a killed worker delays an email; the sweeper makes sure
it never loses one. It runs as a daemon thread in every worker process; the store's
conditional update makes two sweepers never republish the same email in one period.
"""

from __future__ import annotations

import logging
import threading

from micromailer.delivery.pipeline import PublishMany
from micromailer.store.sweep import SweepStore

log = logging.getLogger(__name__)


#: Emails re-armed and republished together (one wait for the broker's confirms).
SWEEP_BATCH = 500


def sweep_once(store: SweepStore, publish_many: PublishMany, sweep_after: float) -> int:
    """Re-arm and republish every stale email, a batch at a time; return how many.

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
            log.warning("could not republish %d stale email(s): %s", len(swept), exc)
            break
        total += len(swept)
        if len(swept) < SWEEP_BATCH:
            break
    if total:
        log.info("sweeper republished %d stale email(s)", total)
    return total


class Sweeper(threading.Thread):
    def __init__(
        self,
        store: SweepStore,
        publish_many: PublishMany,
        *,
        sweep_after: float,
        interval: float,
    ) -> None:
        super().__init__(name="micromailer-sweeper", daemon=True)
        self._store = store
        self._publish_many = publish_many
        self._sweep_after = sweep_after
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                sweep_once(self._store, self._publish_many, self._sweep_after)
            except Exception as exc:  # the store may be down for a while; keep sweeping
                log.warning("sweep failed: %s", exc)

    def stop(self) -> None:
        self._stopped.set()


__all__ = ["SWEEP_BATCH", "Sweeper", "sweep_once"]
