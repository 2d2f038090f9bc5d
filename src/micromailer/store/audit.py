"""The audit log in the store: events written, read back newest first, and deleted once old.

Accepted emails are written with the email itself, by ``EmailStore.add_emails``; this module
writes the other events (key management, refused authentications) and serves the reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from micromailer.domain.audit import AuditEvent
from micromailer.store.base import StoreBase
from micromailer.store.models import AuditEventRow

#: Characters each column holds; longer values are cut, never refused.
_LENGTHS = {"kind": 32, "key_name": 100, "project": 100, "client": 64, "email_id": 36,
            "idempotency_key": 255, "detail": 2000}


class AuditStore(StoreBase):
    """The ``audit_events`` table."""

    def record(
        self, kind: str, *, key_name: str | None = None, project: str | None = None,
        client: str | None = None, email_id: str | None = None,
        idempotency_key: str | None = None, detail: str | None = None,
    ) -> AuditEvent:
        """Write one event that happens now (``keys create``, ``keys revoke``…); the event."""
        event = AuditEvent(self._clock(), kind, key_name, project, client, email_id,
                           idempotency_key, detail)
        self.record_many([event])
        return event

    def record_many(self, events: Sequence[AuditEvent]) -> None:
        """Write ``events`` in one commit."""
        if not events:
            return
        with self.engine.begin() as connection:
            connection.execute(insert(AuditEventRow), [_values(event) for event in events])

    def events(self, *, since: datetime | None = None, limit: int = 100) -> list[AuditEvent]:
        """The ``limit`` newest events at or after ``since``, oldest first."""
        query = (select(AuditEventRow)
                 .order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit))
        if since is not None:
            query = query.where(AuditEventRow.at >= since)
        with self._sessions() as session:
            rows = session.scalars(query).all()
            return [_event(row) for row in reversed(rows)]

    def delete_older_than(self, age: timedelta, limit: int = 1000) -> int:
        """Delete up to ``limit`` events older than ``age``; how many were deleted."""
        cutoff = self._clock() - age
        old = select(AuditEventRow.id).where(AuditEventRow.at < cutoff).limit(limit)
        with self.engine.begin() as connection:
            result = connection.execute(delete(AuditEventRow).where(AuditEventRow.id.in_(old)))
        return int(result.rowcount)


def _values(event: AuditEvent) -> dict[str, object]:
    values: dict[str, object] = asdict(event)
    for name, length in _LENGTHS.items():
        value = values[name]
        if isinstance(value, str) and len(value) > length:
            values[name] = value[:length]
    return values


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(row.at, row.kind, row.key_name, row.project, row.client, row.email_id,
                      row.idempotency_key, row.detail)


__all__ = ["AuditStore"]
