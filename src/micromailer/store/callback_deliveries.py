"""The worker's side of callbacks: claim a due delivery, record what its try came to, and
find deliveries whose task was lost.

A claim counts the try (``attempts`` + 1) and holds the delivery for a lease by moving its
``next_at`` past the try; the outcome applies only under that claim (same ``attempts``, still
``pending``), so a worker whose lease ran out cannot undo a newer try.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from micromailer.store.base import StoreBase
from micromailer.store.callback_outbox import PENDING
from micromailer.store.models import CallbackDeliveryRow, CallbackRow

DELIVERED = "delivered"
FAILED = "failed"
#: A task may run this much before its delivery's ``next_at`` (clocks of two hosts differ).
EARLY_SECONDS = 1.0
#: ``lastError`` of a delivery whose callback was deleted before it could be sent.
CALLBACK_DELETED = "the callback was deleted before this event could be delivered"
#: Longest ``lastError`` kept.
MAX_ERROR = 300

_D = CallbackDeliveryRow


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed delivery: what to send where, and which try this is (1-based)."""

    id: str
    url: str
    secret: str
    payload: str
    attempt: int


class CallbackDeliveryStore(StoreBase):
    def claim(self, delivery_id: str, lease_seconds: float) -> DeliveryJob | None:
        """Take a pending, due delivery for ``lease_seconds``; ``None`` if it is not ours
        (unknown, final, held by another worker, or not yet due). A delivery whose callback
        was deleted ends ``failed`` here, untried."""
        now = self._clock()
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(_D)
                .where(_D.id == delivery_id, _D.status == PENDING,
                       _D.next_at <= now + timedelta(seconds=EARLY_SECONDS))
                .values(attempts=_D.attempts + 1, next_at=now + timedelta(seconds=lease_seconds))
                .returning(_D.callback_id, _D.payload, _D.attempts)
            ).first()
            if claimed is None:
                return None
            callback = connection.execute(
                select(CallbackRow.url, CallbackRow.secret)
                .where(CallbackRow.id == claimed.callback_id, CallbackRow.deleted_at.is_(None))
            ).first()
            if callback is None:
                connection.execute(
                    update(_D).where(_D.id == delivery_id)
                    .values(status=FAILED, attempts=_D.attempts - 1, next_at=None,
                            last_error=CALLBACK_DELETED)
                )
                return None
        return DeliveryJob(delivery_id, callback.url, callback.secret, claimed.payload,
                           claimed.attempts)

    def record(
        self, job: DeliveryJob, status_code: int | None, error: str | None,
        retry_in: float | None,
    ) -> str | None:
        """Store the try's outcome: ``delivered`` on a 2xx, else ``pending`` again in
        ``retry_in`` seconds, or ``failed`` when ``retry_in`` is ``None``. The new status,
        or ``None`` when a newer claim holds the delivery (nothing changed)."""
        now = self._clock()
        delivered = status_code is not None and 200 <= status_code < 300
        if delivered:
            status, values = DELIVERED, {"delivered_at": now, "next_at": None}
        elif retry_in is not None:
            status, values = PENDING, {"next_at": now + timedelta(seconds=retry_in)}
        else:
            status, values = FAILED, {"next_at": None}
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(_D)
                .where(_D.id == job.id, _D.status == PENDING, _D.attempts == job.attempt)
                .values(status=status, last_status_code=status_code,
                        last_error=None if delivered else (error or "")[:MAX_ERROR], **values)
            ).rowcount
        return status if changed else None

    def sweep(self, sweep_after: float, limit: int = 500) -> list[str]:
        """Ids of pending deliveries due more than ``sweep_after`` seconds ago (their task
        was lost, their worker died, or their next try is beyond a task's countdown); each is
        re-armed, due now, by one conditional update, so two sweepers never both take it."""
        now = self._clock()
        stale = (_D.status == PENDING) & (_D.next_at < now - timedelta(seconds=sweep_after))
        with self._transaction() as session:
            candidates = session.scalars(
                select(_D.id).where(stale).order_by(_D.next_at).limit(limit)
            ).all()
            if not candidates:
                return []
            swept = session.scalars(
                update(_D).where(_D.id.in_(candidates), stale).values(next_at=now)
                .returning(_D.id)
            ).all()
            return list(swept)


__all__ = [
    "CALLBACK_DELETED", "DELIVERED", "EARLY_SECONDS", "FAILED", "CallbackDeliveryStore",
    "DeliveryJob",
]
