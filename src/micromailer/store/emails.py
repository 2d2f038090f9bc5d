"""The API's reads and writes: store new emails, read one back or the most recent."""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Integer,
    Table,
    Text,
    bindparam,
    cast,
    column,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import ReturningInsert

from micromailer.domain.attempt import AttemptView, EmailView, EventView, NewEmail
from micromailer.domain.audit import AuditKind
from micromailer.domain.envelope import Envelope
from micromailer.domain.idempotency import KeptAnswer, Reservation
from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.models import (
    AttachmentRow,
    AuditEventRow,
    EmailRow,
    IdempotencyKeyRow,
    UTCDateTime,
)

#: The ``emails`` columns a new email fills from :class:`NewEmail`, and the field each comes from.
_NEW_EMAIL_FIELDS = {
    "id": "email_id",
    **{name: name for name in ("to_email", "to_name", "subject", "content", "html", "text",
                               "sender_email", "sender_name", "project", "test", "envelope")},
}
#: Who sent it (the audit log's row) and the ``Idempotency-Key`` it completes, beside its row.
_SUBMITTER_FIELDS = ("key_name", "client", "idempotency_key")
_KEPT_FIELDS = ("kept_project", "kept_key", "kept_reserved_at", "kept_status", "kept_body")
#: The record set's columns that are not text, by type.
_NON_TEXT_FIELDS = {"test": Boolean, "kept_reserved_at": UTCDateTime, "kept_status": Integer}
#: The audit log's kind for a stored email.
_ACCEPTED = AuditKind.EMAIL_ACCEPTED.value
#: Columns of the audit log as long as the table allows.
_CLIENT_LENGTH = 64
_IDEMPOTENCY_KEY_LENGTH = 255

_KEYS = typing.cast(Table, IdempotencyKeyRow.__table__)


def _insert_from_json() -> ReturningInsert[str]:
    """One statement for a whole group (PostgreSQL), whatever its size, from one JSON
    parameter, an array of one object per email: each ``Idempotency-Key`` completed with its
    answer (by the email that carries the answer), an email stored if it has no key or its key
    was completed here, and its ``email.accepted`` audit row; it returns the ids stored. The
    parameter is one string:
    encoding it is one ``json.dumps``, where array parameters cost the driver a pass in Python
    over every value."""
    names = [*_NEW_EMAIL_FIELDS, *_SUBMITTER_FIELDS, *_KEPT_FIELDS]
    asked = func.json_to_recordset(cast(bindparam("emails"), JSON)).table_valued(
        *(column(name, _NON_TEXT_FIELDS.get(name, Text)) for name in names)
    ).render_derived(name="asked", with_types=True)
    new = select(*asked.c).cte("new")
    now = bindparam("now", type_=UTCDateTime())
    kept = (
        update(_KEYS)
        .where(_KEYS.c.project == new.c.kept_project, _KEYS.c.key == new.c.kept_key,
               _KEYS.c.created_at == new.c.kept_reserved_at, _KEYS.c.status_code.is_(None),
               new.c.kept_status.is_not(None))
        .values(status_code=new.c.kept_status, response_body=new.c.kept_body,
                email_id=new.c.id)
        .returning(_KEYS.c.project, _KEYS.c.key, _KEYS.c.created_at)
        .cte("kept")
    )
    completed = exists().where(
        kept.c.project == new.c.kept_project, kept.c.key == new.c.kept_key,
        kept.c.created_at == new.c.kept_reserved_at,
    )
    stored = (
        insert(EmailRow)
        .from_select(
            [*_NEW_EMAIL_FIELDS, "status", "attempt_count", "retries", "cycle_start", "due_at",
             "created_at", "updated_at"],
            select(*(new.c[name] for name in _NEW_EMAIL_FIELDS),
                   literal(Status.QUEUED.value), literal(0), literal(0), literal(0), now, now,
                   now)
            .where(or_(new.c.kept_key.is_(None), completed)),
        )
        .returning(EmailRow.id)
        .cte("stored")
    )
    return (
        insert(AuditEventRow)
        .from_select(
            ["at", "kind", "key_name", "project", "client", "email_id", "idempotency_key"],
            select(now, literal(_ACCEPTED), new.c.key_name, new.c.project, new.c.client,
                   new.c.id, new.c.idempotency_key)
            .where(new.c.id.in_(select(stored.c.id))),
        )
        .returning(AuditEventRow.email_id)
    )


_INSERT_FROM_JSON = _insert_from_json()


@dataclass(frozen=True, slots=True)
class StoredEmails:
    """What storing a group did: when, and which emails it could not store because their
    ``Idempotency-Key`` was taken over by another request (their lease ran out)."""

    created_at: datetime
    lost: frozenset[str] = frozenset()


def _new_email_values(new: NewEmail) -> dict[str, str | bool | None]:
    """A new email's values by column, as given: the rest of its row is the store's."""
    return {name: getattr(new, field) for name, field in _NEW_EMAIL_FIELDS.items()}


def _submitter_values(new: NewEmail) -> dict[str, str | None]:
    """Who sent it, cut to the audit log's columns (the key is checked before, the client
    address is the server's)."""
    submitter = new.submitter
    key = submitter.idempotency_key
    return {
        "key_name": submitter.key_name,
        "client": submitter.client[:_CLIENT_LENGTH] if submitter.client else None,
        "idempotency_key": key[:_IDEMPOTENCY_KEY_LENGTH] if key else None,
    }


def _kept_values(new: NewEmail) -> dict[str, str | int | None]:
    reservation = _reservation(new)
    if reservation is None:
        return dict.fromkeys(_KEPT_FIELDS)
    kept = new.idempotency if isinstance(new.idempotency, KeptAnswer) else None
    return {
        "kept_project": reservation.project, "kept_key": reservation.key,
        "kept_reserved_at": reservation.reserved_at.isoformat(),
        "kept_status": kept.status_code if kept else None, "kept_body": kept.body if kept else None,
    }


def _reservation(new: NewEmail) -> Reservation | None:
    """The ``Idempotency-Key`` reservation ``new`` is stored under, if any."""
    tie = new.idempotency
    return tie.reservation if isinstance(tie, KeptAnswer) else tie


class EmailStore(StoreBase):
    """Emails as the API sees them: new ones stored ``queued``, any one read back."""

    def add_email(self, new: NewEmail) -> datetime:
        """Store a queued email and commit; return its creation time."""
        return self.add_emails([new]).created_at

    def add_emails(self, news: Sequence[NewEmail]) -> StoredEmails:
        """Store queued emails, each with its ``email.accepted`` audit row and completing its
        ``Idempotency-Key``, in one commit: either all of that is stored or none. An email
        whose key was taken over meanwhile is not stored (``lost``), nor any email tied to
        that key (a batch's); the others are."""
        now = self._clock()
        if not news:
            return StoredEmails(now)
        if self.engine.dialect.name == "postgresql" and not any(new.attachments for new in news):
            # One statement of one JSON parameter, whatever the number of emails, in
            # autocommit: no separate BEGIN and COMMIT round trips (bench/perf/insert_batches).
            emails = json.dumps([
                {**_new_email_values(new), **_submitter_values(new), **_kept_values(new)}
                for new in news
            ])
            with self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                stored = set(connection.scalars(
                    _INSERT_FROM_JSON, {"emails": emails, "now": now}
                ))
            return StoredEmails(now, frozenset(new.email_id for new in news) - stored)
        with self.engine.begin() as connection:
            completed = {
                new.idempotency.reservation for new in news
                if isinstance(new.idempotency, KeptAnswer) and _complete(connection, new)
            }
            lost = frozenset(
                new.email_id for new in news
                if (reservation := _reservation(new)) is not None and reservation not in completed
            )
            kept = [new for new in news if new.email_id not in lost]
            if kept:
                connection.execute(insert(EmailRow), [_row(new, now) for new in kept])
                connection.execute(insert(AuditEventRow), [_accepted(new, now) for new in kept])
                files = [row for new in kept for row in _attachment_rows(new)]
                if files:
                    connection.execute(insert(AttachmentRow), files)
        return StoredEmails(now, lost)

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


def _complete(connection: Connection, new: NewEmail) -> bool:
    """Complete ``new``'s key with its answer, if its reservation still holds it."""
    assert isinstance(new.idempotency, KeptAnswer)
    reservation = new.idempotency.reservation
    result = connection.execute(
        update(_KEYS)
        .where(_KEYS.c.project == reservation.project, _KEYS.c.key == reservation.key,
               _KEYS.c.created_at == reservation.reserved_at, _KEYS.c.status_code.is_(None))
        .values(status_code=new.idempotency.status_code, response_body=new.idempotency.body,
                email_id=new.email_id)
    )
    return bool(result.rowcount)


def _attachment_rows(new: NewEmail) -> list[dict[str, object]]:
    return [
        {"email_id": new.email_id, "position": position, "filename": item.filename,
         "content_type": item.content_type, "content_id": item.content_id,
         "content": item.content}
        for position, item in enumerate(new.attachments)
    ]


def _row(new: NewEmail, now: datetime) -> dict[str, object]:
    return {
        **_new_email_values(new), "status": Status.QUEUED.value, "attempt_count": 0,
        "due_at": now, "created_at": now, "updated_at": now,
    }


def _accepted(new: NewEmail, now: datetime) -> dict[str, object]:
    """The audit log's row for a stored email: who sent it, never what."""
    return {"at": now, "kind": _ACCEPTED, "project": new.project, "email_id": new.email_id,
            **_submitter_values(new)}


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
        sender_email=row.sender_email,
        sender_name=row.sender_name or None,
        envelope=(Envelope.from_json(row.envelope) if row.envelope
                  else Envelope.single(row.to_email, row.to_name)),
        attempts=[
            AttemptView(
                attempt_number=attempt.attempt_number,
                provider=attempt.provider,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                error=attempt.error,
                cycle=attempt.cycle,
            )
            for attempt in row.attempts
        ],
        retries=row.retries,
        events=[
            EventView(type=event.type, at=event.at, provider=event.provider,
                      detail=event.detail, recipient=event.recipient, bounce=event.bounce)
            for event in row.events
        ],
    )


__all__ = ["EmailStore", "StoredEmails"]
