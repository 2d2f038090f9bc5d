"""The repository: every read and write of emails, attempts and health snapshots.

Each public method is one short transaction. State changes that two workers could race on
(claiming an email, sweeping it) are single conditional ``UPDATE`` statements, so the database
decides who wins.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    Engine,
    Insert,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from micromailer.domain.attempt import AttemptView, EmailView, NewEmail, ProviderTry
from micromailer.domain.message import Message
from micromailer.domain.status import Status
from micromailer.health.base import ProviderHealth
from micromailer.store.models import AttemptRow, EmailRow, ProviderHealthRow, UTCDateTime

log = logging.getLogger(__name__)

UtcClock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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


#: The ``emails`` columns a new email fills from :class:`NewEmail`, and the field each comes from.
_NEW_EMAIL_FIELDS = {
    "id": "email_id",
    **{name: name for name in ("to_email", "to_name", "subject", "content", "html", "text",
                               "sender_email", "sender_name")},
}


def _insert_from_json() -> Insert:
    """``INSERT … SELECT`` from one JSON parameter, an array of one object per email
    (PostgreSQL): a single statement, compiled once, however many emails it stores. The
    parameter is one string: encoding it is one ``json.dumps``, where array parameters cost
    the driver a pass in Python over every value."""
    rows = func.json_to_recordset(cast(bindparam("emails"), JSON)).table_valued(
        *(column(name, Text) for name in _NEW_EMAIL_FIELDS)
    ).render_derived(name="new", with_types=True)
    now = bindparam("now", type_=UTCDateTime())
    return insert(EmailRow).from_select(
        [*_NEW_EMAIL_FIELDS, "status", "attempt_count", "due_at", "created_at", "updated_at"],
        select(*rows.c, literal(Status.QUEUED.value), literal(0), now, now, now),
    )


_INSERT_FROM_JSON = _insert_from_json()


def _new_email_values(new: NewEmail) -> dict[str, str | None]:
    """A new email's values by column, as given: the rest of its row is the store's."""
    return {name: getattr(new, field) for name, field in _NEW_EMAIL_FIELDS.items()}


class EmailStore:
    """Emails and their attempts in SQL."""

    def __init__(
        self, engine: Engine, clock: UtcClock = utcnow, *, record_patience: float = 30.0
    ) -> None:
        """``record_patience``: seconds a worker keeps trying to record an attempt's outcome
        while the database is unreachable, so that a short outage does not turn a delivered
        email into a duplicate (see :meth:`_finish`)."""
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._record_patience = record_patience

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- the API's side ------------------------------------------------------------------

    def add_email(self, new: NewEmail) -> datetime:
        """Store a queued email and commit; return its creation time."""
        return self.add_emails([new])

    def add_emails(self, news: Sequence[NewEmail]) -> datetime:
        """Store queued emails in one statement, committed; return their creation time.
        Either all are stored or none."""
        now = self._clock()
        if not news:
            return now
        if self.engine.dialect.name == "postgresql":
            # One statement of one JSON parameter, whatever the number of emails, in
            # autocommit: no separate BEGIN and COMMIT round trips (bench/perf/insert_batches).
            emails = json.dumps([_new_email_values(new) for new in news])
            with self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.execute(_INSERT_FROM_JSON, {"emails": emails, "now": now})
            return now
        rows = [
            {
                **_new_email_values(new),
                "status": Status.QUEUED.value,
                "attempt_count": 0,
                "due_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for new in news
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(EmailRow), rows)
        return now

    def get_email(self, email_id: str) -> EmailView | None:
        with self._sessions() as session:
            row = session.get(EmailRow, email_id)
            return _view(row) if row is not None else None

    def recent_emails(self, limit: int = 20) -> list[EmailView]:
        with self._sessions() as session:
            rows = session.scalars(
                select(EmailRow).order_by(EmailRow.created_at.desc()).limit(limit)
            ).all()
            return [_view(row) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(
                select(EmailRow.status, func.count()).group_by(EmailRow.status)
            ).all()
            return {status: count for status, count in rows}

    def count_tries(self) -> dict[tuple[str, str], int]:
        """Provider tries so far, by ``(provider, outcome)``."""
        with self._sessions() as session:
            rows = session.execute(
                select(AttemptRow.provider, AttemptRow.outcome, func.count())
                .group_by(AttemptRow.provider, AttemptRow.outcome)
            ).all()
            return {(provider, outcome): count for provider, outcome, count in rows}

    # -- the worker's side ---------------------------------------------------------------

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

    # -- health snapshots (embedded mode's live scores) ---------------------------------

    def save_health(self, states: Sequence[ProviderHealth]) -> None:
        now = self._clock()
        with self._transaction() as session:
            for state in states:
                session.merge(
                    ProviderHealthRow(
                        name=state.name, health=state.health, last_error=state.last_error,
                        retry_at=state.retry_at, updated_at=now,
                    )
                )

    def load_health(self) -> list[ProviderHealth]:
        """Saved health per provider; ``base_score`` is 0 here: the caller's config owns it."""
        with self._sessions() as session:
            rows = session.scalars(select(ProviderHealthRow)).all()
            return [ProviderHealth(row.name, 0.0, row.health, row.last_error, row.retry_at)
                    for row in rows]


#: One email's outcome, for :meth:`EmailStore.record` run once per batch (executemany).
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


def _view(row: EmailRow) -> EmailView:
    return EmailView(
        email_id=row.id,
        to_email=row.to_email,
        to_name=row.to_name,
        subject=row.subject,
        status=Status(row.status),
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        error=row.error,
        attempt_count=row.attempt_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attempts=[
            AttemptView(
                attempt_number=attempt.attempt_number,
                provider=attempt.provider,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                error=attempt.error,
            )
            for attempt in row.attempts
        ],
    )


__all__ = ["AttemptRecord", "Claim", "EmailStore", "UtcClock", "utcnow"]
