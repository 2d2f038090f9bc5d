"""The cleaner: expired idempotency keys and audit events past their retention, deleted.

It runs beside the sweeper in every worker process, in batches of bounded size, so that on
SQLite each delete is a short write that the API's commits wait behind for little time. Two
workers cleaning at once only delete the same rows once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from micromailer.config import Settings
from micromailer.store.audit import AuditStore
from micromailer.store.idempotency import IdempotencyStore

log = logging.getLogger(__name__)

#: Rows deleted by one statement.
CLEANUP_BATCH = 1000
#: Seconds between two cleanups.
CLEANUP_INTERVAL = 300.0


@dataclass(frozen=True, slots=True)
class Cleaned:
    keys: int
    events: int


def clean_once(
    keys: IdempotencyStore, audit: AuditStore, *, retention_days: int,
    batch: int = CLEANUP_BATCH,
) -> Cleaned:
    """Delete every expired key and every event older than ``retention_days``, ``batch``
    rows at a time; how many of each."""
    deleted_keys = _in_batches(lambda: keys.delete_expired(limit=batch), batch)
    age = timedelta(days=retention_days)
    deleted_events = _in_batches(lambda: audit.delete_older_than(age, limit=batch), batch)
    if deleted_keys or deleted_events:
        log.info("cleaner deleted %d expired idempotency key(s) and %d audit event(s) older "
                 "than %d days", deleted_keys, deleted_events, retention_days)
    return Cleaned(deleted_keys, deleted_events)


def _in_batches(delete_batch: Callable[[], int], batch: int) -> int:
    total = 0
    while True:
        deleted = delete_batch()
        total += deleted
        if deleted < batch:
            return total


class Cleaner(threading.Thread):
    """Runs :func:`clean_once` every ``interval`` seconds until stopped."""

    def __init__(
        self, keys: IdempotencyStore, audit: AuditStore, *, retention_days: int,
        interval: float = CLEANUP_INTERVAL,
    ) -> None:
        super().__init__(name="micromailer-cleaner", daemon=True)
        self._keys = keys
        self._audit = audit
        self._retention_days = retention_days
        self._interval = interval
        self._stopped = threading.Event()

    @classmethod
    def for_settings(cls, settings: Settings, engine: Engine) -> Cleaner:
        return cls(IdempotencyStore(engine), AuditStore(engine),
                   retention_days=settings.audit_retention_days)

    def run(self) -> None:
        while True:
            try:
                clean_once(self._keys, self._audit, retention_days=self._retention_days)
            except Exception as exc:  # the store may be down for a while; clean later
                log.warning("cleanup failed: %s", exc)
            if self._stopped.wait(self._interval):
                return

    def stop(self) -> None:
        self._stopped.set()

__all__ = ["CLEANUP_BATCH", "CLEANUP_INTERVAL", "Cleaned", "Cleaner", "clean_once"]
