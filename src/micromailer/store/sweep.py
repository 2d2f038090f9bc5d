"""The sweeper's query: find emails a worker should have picked up by now, and re-arm them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.models import EmailRow


class SweepStore(StoreBase):
    """Stale emails, re-armed by one conditional ``UPDATE`` so two sweepers never both win."""

    def sweep(self, sweep_after: float, limit: int = 500) -> list[str]:
        """Ids of emails a worker should have picked up by now; they are re-armed, due now.

        Stale means ``queued`` and due more than ``sweep_after`` seconds ago (its task was lost
        in the broker or never published), or ``sending`` under an expired lease (its worker
        died). Each is made ``queued`` and due now in one conditional update, so two sweepers
        never both republish it within one period.
        """
        now = self._clock()
        cutoff = now - timedelta(seconds=sweep_after)
        stale = or_(
            and_(EmailRow.status == Status.QUEUED.value, EmailRow.due_at < cutoff),
            and_(EmailRow.status == Status.SENDING.value, EmailRow.claimed_until < now),
        )
        with self._transaction() as session:
            candidates = session.scalars(select(EmailRow.id).where(stale).limit(limit)).all()
            if not candidates:
                return []
            swept = session.scalars(
                update(EmailRow)
                .where(EmailRow.id.in_(candidates), stale)
                .values(status=Status.QUEUED.value, due_at=now, claimed_until=None, updated_at=now)
                .returning(EmailRow.id)
            ).all()
            return list(swept)


__all__ = ["SweepStore"]
