"""The sweeper: republish emails a worker should have picked up by now.

A broker outage, a lost message or a killed worker delays an email; the sweeper makes sure
it never loses one. It runs as a daemon thread in every worker process; the store's
conditional update makes two sweepers never republish the same email in one period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from micromailer.store.repository import EmailStore

log = logging.getLogger(__name__)


def sweep_once(store: EmailStore, publish: Callable[[str], None], sweep_after: float) -> int:
    """Re-arm and republish every stale email; return how many."""
    swept = store.sweep(sweep_after)
    for email_id in swept:
        try:
            publish(email_id)
        except Exception as exc:  # still due: the next sweep tries again
            log.warning("could not republish %s: %s", email_id, exc)
    if swept:
        log.info("sweeper republished %d stale email(s)", len(swept))
    return len(swept)


class Sweeper(threading.Thread):
    def __init__(
        self,
        store: EmailStore,
        publish: Callable[[str], None],
        *,
        sweep_after: float,
        interval: float,
    ) -> None:
        super().__init__(name="micromailer-sweeper", daemon=True)
        self._store = store
        self._publish = publish
        self._sweep_after = sweep_after
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                sweep_once(self._store, self._publish, self._sweep_after)
            except Exception as exc:  # the store may be down for a while; keep sweeping
                log.warning("sweep failed: %s", exc)

    def stop(self) -> None:
        self._stopped.set()


__all__ = ["Sweeper", "sweep_once"]
