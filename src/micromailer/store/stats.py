"""Counts for the metrics: emails by status, provider tries by provider and outcome, and the
backlog of emails waiting for a worker."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import and_, func, or_, select

from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.models import AttemptRow, EmailRow


class Backlog(NamedTuple):
    """Emails waiting for a worker, and how long the oldest has waited since it was accepted
    (0 when none waits)."""

    emails: int
    oldest_seconds: float


class StatsStore(StoreBase):
    """What ``GET /metrics`` counts, read from the store at each scrape."""

    def count_by_status(self) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(
                select(EmailRow.status, func.count()).group_by(EmailRow.status)
            ).all()
            return {status: count for status, count in rows}

    def count_tries(self) -> dict[tuple[str, str], int]:
        """Real provider tries so far, by ``(provider, outcome)``: a test email's tries went to
        the sandbox fakes under the providers' names, and are not counted."""
        with self._sessions() as session:
            rows = session.execute(
                select(AttemptRow.provider, AttemptRow.outcome, func.count())
                .join(EmailRow, EmailRow.id == AttemptRow.email_id)
                .where(EmailRow.test.is_(False))
                .group_by(AttemptRow.provider, AttemptRow.outcome)
            ).all()
            return {(provider, outcome): count for provider, outcome, count in rows}

    def backlog(self) -> Backlog:
        """Emails ``queued`` (new, or waiting out a retry's backoff) or ``sending`` past their
        lease (their worker died), in one query on the status index."""
        now = self._clock()
        waiting = or_(
            EmailRow.status == Status.QUEUED.value,
            and_(EmailRow.status == Status.SENDING.value, EmailRow.claimed_until < now),
        )
        with self._sessions() as session:
            emails, oldest = session.execute(
                select(func.count(), func.min(EmailRow.created_at)).where(waiting)
            ).one()
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return Backlog(emails, max(0.0, age))


__all__ = ["Backlog", "StatsStore"]
