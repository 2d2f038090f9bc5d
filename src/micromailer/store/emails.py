"""The API's reads and writes: store new emails, read one back or the most recent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Insert,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
)

from micromailer.domain.attempt import AttemptView, EmailView, NewEmail
from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.models import EmailRow, UTCDateTime

#: The ``emails`` columns a new email fills from :class:`NewEmail`, and the field each comes from.
_NEW_EMAIL_FIELDS = {
    "id": "email_id",
    **{name: name for name in ("to_email", "to_name", "subject", "content", "html", "text",
                               "sender_email", "sender_name", "project", "test")},
}
#: The columns that are not text, by type, for the JSON record set.
_NON_TEXT_FIELDS = {"test": Boolean}


def _insert_from_json() -> Insert:
    """``INSERT … SELECT`` from one JSON parameter, an array of one object per email
    (PostgreSQL): a single statement, compiled once, however many emails it stores. The
    parameter is one string: encoding it is one ``json.dumps``, where array parameters cost
    the driver a pass in Python over every value."""
    rows = func.json_to_recordset(cast(bindparam("emails"), JSON)).table_valued(
        *(column(name, _NON_TEXT_FIELDS.get(name, Text)) for name in _NEW_EMAIL_FIELDS)
    ).render_derived(name="new", with_types=True)
    now = bindparam("now", type_=UTCDateTime())
    return insert(EmailRow).from_select(
        [*_NEW_EMAIL_FIELDS, "status", "attempt_count", "due_at", "created_at", "updated_at"],
        select(*rows.c, literal(Status.QUEUED.value), literal(0), now, now, now),
    )


_INSERT_FROM_JSON = _insert_from_json()


def _new_email_values(new: NewEmail) -> dict[str, str | bool | None]:
    """A new email's values by column, as given: the rest of its row is the store's."""
    return {name: getattr(new, field) for name, field in _NEW_EMAIL_FIELDS.items()}


class EmailStore(StoreBase):
    """Emails as the API sees them: new ones stored ``queued``, any one read back."""

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

    def recent_emails(self, limit: int = 20, project: str | None = None) -> list[EmailView]:
        """The newest emails, of ``project`` only when given, else of every project."""
        query = select(EmailRow).order_by(EmailRow.created_at.desc()).limit(limit)
        if project is not None:
            query = query.where(EmailRow.project == project)
        with self._sessions() as session:
            rows = session.scalars(query).all()
            return [_view(row) for row in rows]


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
        project=row.project,
        test=row.test,
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


__all__ = ["EmailStore"]
