"""The worker's side: claim an email under a lease, record what its attempt came to.

The claim number (``attempt_count``, one more at each claim) fences every outcome: an outcome
applies only while its attempt is still the email's latest claim and the email is not final.
A worker whose lease ran out and whose email another worker claimed since cannot undo that
attempt; its tries still go into the history, marked with :data:`STALE_OUTCOME_NOTE`.

An outcome that makes an email ``sent`` or ``failed`` also adds, in the same transaction, a
delivery for each of its project's callbacks that wants that event (``callback_outbox.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.envelope import Envelope
from micromailer.domain.message import Address, Attachment, Message
from micromailer.domain.status import Status
from micromailer.retry import RECORD_RETRY, STORE_UNREACHABLE
from micromailer.store.base import StoreBase, UtcClock, utcnow
from micromailer.store.callback_outbox import EmailEvent, enqueue_email_events
from micromailer.store.models import AttachmentRow, AttemptRow, EmailRow, UTCDateTime

log = logging.getLogger(__name__)

#: Called with the ids of the callback deliveries an outcome added, once they are committed.
PublishCallbacks = Callable[[Sequence[str]], None]
#: The statuses whose outcome the email's callbacks are told of.
_TOLD = (Status.SENT, Status.FAILED)

#: Appended to the error of every try whose attempt's outcome came after a newer claim.
STALE_OUTCOME_NOTE = "late: a newer attempt had taken the email over, this outcome was not applied"


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
    #: The email's delivery cycle this attempt belongs to (one more per retry by hand).
    cycle: int = 1


@dataclass(frozen=True, slots=True)
class Claim:
    """An email a worker now holds in ``sending``, which attempt this is (1-based), when it was
    accepted, and what the earlier attempts failed with."""

    message: Message
    attempt_number: int
    created_at: datetime
    previous_error: str | None = None
    #: The email's delivery cycle: 1, then one more per retry by hand (``store/retries.py``).
    cycle: int = 1
    #: Attempts made before this cycle; ``MICROMAILER_MAX_ATTEMPTS`` counts from there.
    cycle_start: int = 0

    @property
    def attempt_in_cycle(self) -> int:
        """Which attempt of its cycle this is (1-based): what the retry budget counts."""
        return self.attempt_number - self.cycle_start


class ClaimStore(StoreBase):
    """Claims and outcomes. Each is a conditional ``UPDATE``, so the database decides which
    of two racing workers wins. ``publish_callbacks`` gets the callback deliveries the
    outcomes added, after their commit; what it cannot publish, the sweeper does."""

    def __init__(
        self, engine: Engine, clock: UtcClock = utcnow,
        publish_callbacks: PublishCallbacks | None = None,
    ) -> None:
        super().__init__(engine, clock)
        self._publish_callbacks = publish_callbacks

    def claim(self, email_id: str, lease_seconds: float) -> Claim | None:
        """Take the email into ``sending`` for ``lease_seconds``, or ``None`` if not ours to send.

        It is ours if it is ``queued`` and due, or ``sending`` under a lease that has run out
        (its worker died). A final email, one another worker holds, or one waiting out a
        backoff or a ``Retry-After`` is not claimed: that is what makes a redelivered task a
        no-op. The retry scheduled for it, or else the sweeper, delivers it when due.
        """
        return self.claim_many([email_id], lease_seconds).get(email_id)

    def claim_many(self, email_ids: Sequence[str], lease_seconds: float) -> dict[str, Claim]:
        """:meth:`claim` for many emails in one statement; the claimed ones, by id."""
        now = self._clock()
        # Core, not ORM: this runs for every delivery, and only these columns are needed.
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(EmailRow)
                .where(EmailRow.id.in_(email_ids), _claimable(now))
                .values(
                    status=Status.SENDING.value,
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempt_count=EmailRow.attempt_count + 1,
                    updated_at=now,
                )
                .returning(*_MESSAGE_COLUMNS, EmailRow.attempt_count, EmailRow.created_at,
                           EmailRow.error, EmailRow.retries, EmailRow.cycle_start)
            ).all()
            envelopes = {
                row.id: Envelope.from_json(row.envelope) if row.envelope
                else Envelope.single(row.to_email, row.to_name)
                for row in claimed
            }
            files = _attachments(
                connection, [email_id for email_id, envelope in envelopes.items()
                             if envelope.attachments]
            )
        return {
            row.id: Claim(
                envelopes[row.id].message(
                    email_id=row.id, subject=row.subject, html=row.html, text=row.text,
                    sender=Address(row.sender_email, row.sender_name or None),
                    attachments=files.get(row.id, ()), test=row.test,
                ),
                row.attempt_count,
                row.created_at,
                row.error,
                cycle=row.retries + 1,
                cycle_start=row.cycle_start,
            )
            for row in claimed
        }

    def retry_record(
        self, email_id: str, attempt_number: int, tries: Sequence[ProviderTry], error: str,
        delay_seconds: float, *, cycle: int = 1,
    ) -> AttemptRecord:
        """Back to ``queued``, due again after ``delay_seconds`` (on this store's clock)."""
        due_at = self._clock() + timedelta(seconds=delay_seconds)
        return AttemptRecord(email_id, attempt_number, tries, Status.QUEUED, error, due_at=due_at,
                             cycle=cycle)

    def record(self, records: Sequence[AttemptRecord]) -> list[bool]:
        """Store attempts' outcomes and tries in one transaction; whether each outcome applied.

        An outcome applies under its own claim only (see the module's docstring); a stale one
        leaves the email as it is and its tries are kept, marked. The providers have answered:
        losing this write would send the emails again, so a store outage is ridden out
        (:data:`~micromailer.retry.RECORD_RETRY`).
        """
        if not records:
            return []
        applied, deliveries = RECORD_RETRY.call(
            partial(self._record_once, records), STORE_UNREACHABLE,
            f"recording {len(records)} outcome(s)",
        )
        if deliveries and self._publish_callbacks is not None:
            try:
                self._publish_callbacks(deliveries)
            except Exception as exc:  # committed: the sweeper publishes them once overdue
                log.warning("could not publish %d callback delivery(ies) (%s); the sweeper "
                            "will", len(deliveries), type(exc).__name__)
        return applied

    def _record_once(self, records: Sequence[AttemptRecord]) -> tuple[list[bool], list[str]]:
        now = self._clock()
        with self.engine.connect() as connection:
            applied = _apply_outcomes(connection, [_outcome_params(r, now) for r in records])
            tries = [
                row
                for record, current in zip(records, applied, strict=True)
                for row in _attempt_rows(record, stale=not current)
            ]
            if tries:
                connection.execute(insert(AttemptRow), tries)
            told = [_email_event(record, now)
                    for record, current in zip(records, applied, strict=True)
                    if current and record.status in _TOLD]
            deliveries = enqueue_email_events(connection, told, now)
            connection.commit()
        for record, current in zip(records, applied, strict=True):
            if not current:
                log.warning(
                    "email %s: the outcome of attempt %d (%s) came after a newer claim; "
                    "its tries are kept, the email is left as it is",
                    record.email_id, record.attempt_number, record.status.value,
                    extra={"email_id": record.email_id},
                )
        return applied, deliveries


def _email_event(record: AttemptRecord, now: datetime) -> EmailEvent:
    """What the email's callbacks are told of its outcome."""
    data = ({"provider": record.provider, "providerMessageId": record.provider_message_id}
            if record.status is Status.SENT else {"error": record.error})
    return EmailEvent(record.email_id, record.status.value, record.status.value, now, data)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or sending under a lease that has run out.

    A row written due at once (a new email, or one the sweeper re-armed) has ``due_at`` equal
    to its ``updated_at``: it is due whatever the claimer's clock says, so a host whose clock
    is a moment behind the writer's does not leave it to the sweeper. A retry's ``due_at`` is
    later than its ``updated_at``, and waits for this clock to reach it.
    """
    due = or_(EmailRow.due_at <= now, EmailRow.due_at <= EmailRow.updated_at)
    return or_(
        and_(EmailRow.status == Status.QUEUED.value, due),
        and_(EmailRow.status == Status.SENDING.value, EmailRow.claimed_until < now),
    )


def _apply_outcomes(connection: Connection, params: list[dict[str, Any]]) -> list[bool]:
    """Run :data:`_RECORD_OUTCOME` for each outcome; whether each changed its email.

    All in one ``executemany`` when every one applies, as nearly always; when the count falls
    short, that batch is rolled back and each outcome runs alone, so we know which were stale.
    """
    if connection.dialect.supports_sane_multi_rowcount:
        if connection.execute(_RECORD_OUTCOME, params).rowcount == len(params):
            return [True] * len(params)
        connection.rollback()
    return [connection.execute(_RECORD_OUTCOME, one).rowcount == 1 for one in params]


def _outcome_params(record: AttemptRecord, now: datetime) -> dict[str, Any]:
    return {
        "b_id": record.email_id,
        "b_attempt": record.attempt_number,
        "b_status": record.status.value,
        "b_error": record.error,
        "b_provider": record.provider,
        "b_provider_message_id": record.provider_message_id,
        "b_due_at": record.due_at,
        "b_now": now,
    }


#: One email's outcome, applied only under the claim it belongs to: no claim since (the
#: attempt count is still the record's) and not final. ``provider`` and ``due_at`` keep their
#: stored values where the record has none.
_RECORD_OUTCOME = (
    update(EmailRow)
    .where(
        EmailRow.id == bindparam("b_id"),
        EmailRow.attempt_count == bindparam("b_attempt"),
        or_(EmailRow.status == Status.SENDING.value, EmailRow.status == Status.QUEUED.value),
    )
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
    EmailRow.text, EmailRow.sender_email, EmailRow.sender_name, EmailRow.test,
    EmailRow.envelope,
)


def _attachments(
    connection: Connection, email_ids: Sequence[str]
) -> dict[str, list[Attachment]]:
    """The files of ``email_ids``, in order, by email: read only for emails that have some."""
    files: dict[str, list[Attachment]] = {}
    if not email_ids:
        return files
    rows = connection.execute(
        select(AttachmentRow.email_id, AttachmentRow.filename, AttachmentRow.content_type,
               AttachmentRow.content, AttachmentRow.content_id)
        .where(AttachmentRow.email_id.in_(email_ids))
        .order_by(AttachmentRow.email_id, AttachmentRow.position)
    )
    for row in rows:
        files.setdefault(row.email_id, []).append(
            Attachment(row.filename, row.content_type, bytes(row.content), row.content_id)
        )
    return files


def _attempt_rows(record: AttemptRecord, *, stale: bool) -> list[dict[str, object]]:
    """The record's tries as ``attempts`` rows; a stale record's tries say so in ``error``."""
    return [
        {
            "email_id": record.email_id,
            "attempt_number": record.attempt_number,
            "cycle": record.cycle,
            "provider": attempt.provider,
            "started_at": attempt.started_at,
            "finished_at": attempt.finished_at,
            "outcome": attempt.outcome.value,
            "status_code": attempt.status_code,
            "error": _stale_error(attempt.error) if stale else attempt.error,
        }
        for attempt in record.tries
    ]


def _stale_error(error: str | None) -> str:
    return f"{error} ({STALE_OUTCOME_NOTE})" if error else STALE_OUTCOME_NOTE


__all__ = ["STALE_OUTCOME_NOTE", "AttemptRecord", "Claim", "ClaimStore", "PublishCallbacks"]
