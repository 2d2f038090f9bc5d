"""The worker's side: claim an email under a lease, record what its attempt came to."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, update
from sqlalchemy.exc import InterfaceError, OperationalError

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.message import Message
from micromailer.domain.status import Status
from micromailer.store.base import StoreBase, UtcClock, utcnow
from micromailer.store.models import AttemptRow, EmailRow, UTCDateTime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What an attempt leaves in the store: the email's new status and every provider try.

    ``sent`` carries the provider; ``queued`` (a retry) is due again at ``due_at``."""

    email_id: str
    attempt_number: int
    tries: Sequence[ProviderTry]
    status: Status
    error: str | None
    provider: str | None = None
    provider_message_id: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """An email a worker now holds in ``sending``, which attempt this is (1-based), and what
    the earlier attempts failed with."""

    message: Message
    attempt_number: int
    previous_error: str | None = None


class ClaimStore(StoreBase):
    """Claims and outcomes. A claim is one conditional ``UPDATE``, so the database decides
    which of two racing workers wins."""

    def __init__(
        self, engine: Engine, clock: UtcClock = utcnow, *, record_patience: float = 30.0
    ) -> None:
        """``record_patience``: seconds a worker keeps trying to record an attempt's outcome
        while the database is unreachable, so that a short outage does not turn a delivered
        email into a duplicate (see :meth:`record`)."""
        super().__init__(engine, clock)
        self._record_patience = record_patience

    def claim(self, email_id: str, lease_seconds: float) -> Claim | None:
        """Take the email into ``sending`` for ``lease_seconds``, or ``None`` if not ours to send.

        It is ours if it is ``queued``, or ``sending`` under a lease that has run out (its worker
        died). A final email, or one another worker holds, is never claimed: that is what makes a
        redelivered task a no-op.
        """
        return self.claim_many([email_id], lease_seconds).get(email_id)

    def claim_many(self, email_ids: Sequence[str], lease_seconds: float) -> dict[str, Claim]:
        """:meth:`claim` for many emails in one statement; the claimed ones, by id."""
        now = self._clock()
        # Core, not ORM: this runs for every delivery, and only these columns are needed.
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(EmailRow)
                .where(
                    EmailRow.id.in_(email_ids),
                    or_(
                        EmailRow.status == Status.QUEUED.value,
                        and_(EmailRow.status == Status.SENDING.value, EmailRow.claimed_until < now),
                    ),
                )
                .values(
                    status=Status.SENDING.value,
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempt_count=EmailRow.attempt_count + 1,
                    updated_at=now,
                )
                .returning(*_MESSAGE_COLUMNS, EmailRow.attempt_count, EmailRow.error)
            ).all()
        return {
            row.id: Claim(
                Message(
                    email_id=row.id, to_email=row.to_email, to_name=row.to_name,
                    subject=row.subject, html=row.html, text=row.text,
                    sender_email=row.sender_email, sender_name=row.sender_name,
                ),
                row.attempt_count,
                row.error,
            )
            for row in claimed
        }

    def retry_record(
        self, email_id: str, attempt_number: int, tries: Sequence[ProviderTry], error: str,
        delay_seconds: float,
    ) -> AttemptRecord:
        """Back to ``queued``, due again after ``delay_seconds`` (on this store's clock)."""
        due_at = self._clock() + timedelta(seconds=delay_seconds)
        return AttemptRecord(email_id, attempt_number, tries, Status.QUEUED, error, due_at=due_at)

    def record(self, records: Sequence[AttemptRecord]) -> None:
        """Store attempts' outcomes in one transaction: each email's new state and its tries.

        The providers have answered: losing this write would send the emails again once their
        leases run out, so a short database outage is ridden out instead of failing at once.
        """
        if not records:
            return
        now = self._clock()
        updates = [
            {
                "b_id": record.email_id,
                "b_status": record.status.value,
                "b_error": record.error,
                "b_provider": record.provider,
                "b_provider_message_id": record.provider_message_id,
                "b_due_at": record.due_at,
                "b_now": now,
            }
            for record in records
        ]
        attempts = [
            row
            for record in records
            for row in _attempt_rows(record.email_id, record.attempt_number, record.tries)
        ]
        deadline = time.monotonic() + self._record_patience
        pause = 0.1
        while True:
            try:
                with self.engine.begin() as connection:
                    connection.execute(_RECORD_OUTCOME, updates)
                    if attempts:
                        connection.execute(insert(AttemptRow), attempts)
                return
            except (OperationalError, InterfaceError) as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("store unreachable while recording %d outcome(s) (%s); retrying",
                            len(records), type(exc).__name__)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)


#: One email's outcome, for :meth:`ClaimStore.record` run once per batch (executemany).
#: ``provider`` and ``due_at`` keep their stored values where the record has none.
_RECORD_OUTCOME = (
    update(EmailRow)
    .where(EmailRow.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        provider=func.coalesce(bindparam("b_provider"), EmailRow.provider),
        provider_message_id=func.coalesce(
            bindparam("b_provider_message_id"), EmailRow.provider_message_id
        ),
        due_at=func.coalesce(bindparam("b_due_at", type_=UTCDateTime()), EmailRow.due_at),
        claimed_until=None,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)

#: The columns a :class:`Message` is made of.
_MESSAGE_COLUMNS = (
    EmailRow.id, EmailRow.to_email, EmailRow.to_name, EmailRow.subject, EmailRow.html,
    EmailRow.text, EmailRow.sender_email, EmailRow.sender_name,
)


def _attempt_rows(
    email_id: str, attempt_number: int, tries: Sequence[ProviderTry]
) -> list[dict[str, object]]:
    return [
        {
            "email_id": email_id,
            "attempt_number": attempt_number,
            "provider": attempt.provider,
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
            "outcome": attempt.outcome.value,
            "status_code": attempt.status_code,
            "error": attempt.error,
        }
        for attempt in tries
    ]


__all__ = ["AttemptRecord", "Claim", "ClaimStore"]
