"""Counts for the metrics: emails by status, provider tries by provider and outcome."""

from __future__ import annotations

from sqlalchemy import func, select

from micromailer.store.base import StoreBase
from micromailer.store.models import AttemptRow, EmailRow


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


__all__ = ["StatsStore"]
