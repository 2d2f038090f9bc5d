"""The audit log's writer on the API's hot path: refused authentications, sampled.

A flood of bad keys must not fill the disk nor slow the event loop: each API process records at
most ``per_minute`` refusals a minute one by one, counts the rest, and writes one
``auth.refused.unsampled`` row per minute with that count and the busiest clients. Rows are
written in batches by a thread of their own; :meth:`AuditLog.refused` only appends to a list.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime, timedelta

from micromailer.domain.audit import AuditEvent, AuditKind
from micromailer.security.keys import LIVE_KIND, TEST_KIND
from micromailer.store.audit import AuditStore
from micromailer.store.base import UtcClock, utcnow

log = logging.getLogger(__name__)

#: Refused authentications recorded one by one per minute and API process.
REFUSALS_PER_MINUTE = 60
#: Seconds between two writes of what was recorded.
FLUSH_INTERVAL = 1.0
#: Distinct clients counted in a minute's summary; more are counted together.
MAX_CLIENTS_COUNTED = 1000
#: Events kept for the next write while the store is down; older ones are dropped.
MAX_PENDING = 10 * REFUSALS_PER_MINUTE
_BUSIEST_SHOWN = 5


class AuditLog:
    """Records refused authentications into ``store`` (nothing without one), sampled."""

    def __init__(
        self, store: AuditStore | None = None, *, per_minute: int = REFUSALS_PER_MINUTE,
        clock: UtcClock = utcnow, flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self._store = store
        self._per_minute = per_minute
        self._clock = clock
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._pending: list[AuditEvent] = []
        self._minute: datetime | None = None
        self._recorded = 0
        self._unsampled: Counter[str | None] = Counter()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def refused(self, client: str | None, key_prefix: str | None, reason: str) -> None:
        """Note one refused authentication; never blocks the event loop. ``key_prefix`` is
        kept only when it is a micromailer key's (its visible prefix), never a foreign token's
        first characters."""
        if self._store is None:
            return
        now = self._clock()
        with self._lock:
            self._roll(now)
            if self._recorded < self._per_minute:
                self._recorded += 1
                self._pending.append(AuditEvent(
                    now, AuditKind.AUTH_REFUSED.value, client=client,
                    detail=_refusal_detail(reason, key_prefix),
                ))
            elif client in self._unsampled or len(self._unsampled) < MAX_CLIENTS_COUNTED:
                self._unsampled[client] += 1
            else:
                self._unsampled[None] += 1
        if self._thread is None:
            self._start()

    def flush(self) -> None:
        """Write what was recorded, and the count of a minute that has ended."""
        if self._store is None:
            return
        with self._lock:
            self._roll(self._clock())
            events, self._pending = self._pending, []
        if not events:
            return
        try:
            self._store.record_many(events)
        except Exception as exc:  # kept for the next write, within bounds
            log.warning("could not write %d audit event(s): %s", len(events), exc)
            with self._lock:
                self._pending[:0] = events
                del self._pending[:-MAX_PENDING]

    def close(self) -> None:
        """Stop the writer thread and write everything, the current minute's count included."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            self._close_minute()
        self.flush()

    def _roll(self, now: datetime) -> None:
        """Start ``now``'s minute, closing the previous one (holding the lock)."""
        minute = now.replace(second=0, microsecond=0)
        if minute != self._minute:
            self._close_minute()
            self._minute = minute
            self._recorded = 0

    def _close_minute(self) -> None:
        """The current minute's count of unrecorded refusals as one event (holding the lock)."""
        if not self._unsampled or self._minute is None:
            return
        total = sum(self._unsampled.values())
        busiest = [(client, n) for client, n in self._unsampled.most_common() if client][
            :_BUSIEST_SHOWN]
        start, end = self._minute, self._minute + timedelta(minutes=1)
        detail = (
            f"{total} more refused authentications from {start:%H:%M} to {end:%H:%M} UTC, "
            f"not recorded one by one (at most {self._per_minute} a minute are)"
        )
        if busiest:
            detail += "; most from " + ", ".join(f"{client} ({n})" for client, n in busiest)
        self._pending.append(AuditEvent(
            end, AuditKind.AUTH_REFUSED_UNSAMPLED.value,
            client=busiest[0][0] if busiest else None, detail=detail,
        ))
        self._unsampled.clear()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="micromailer-audit", daemon=True
            )
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._flush_interval):
            self.flush()


def _refusal_detail(reason: str, key_prefix: str | None) -> str:
    if key_prefix is None:
        return reason
    if key_prefix.startswith((LIVE_KIND, TEST_KIND)):
        return f"{reason} (key {key_prefix}…)"
    return f"{reason} (a token that is not a micromailer key)"


__all__ = ["FLUSH_INTERVAL", "MAX_CLIENTS_COUNTED", "REFUSALS_PER_MINUTE", "AuditLog"]
