"""The API's side of callbacks: register, list and delete a project's callback URLs, and
read a callback's delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from micromailer.callbacks.events import loaded_events, stored_events
from micromailer.store.base import StoreBase
from micromailer.store.models import CallbackDeliveryRow, CallbackRow


def project_key(project: str | None) -> str:
    """The ``callbacks.project`` of a key's project: ``""`` when authentication is off (the
    emails of no project)."""
    return project or ""


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: str
    #: ``None``: the emails of no project (authentication was off).
    project: str | None
    url: str
    events: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One line of a callback's delivery log."""

    id: str
    event: str
    email_id: str | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class CallbackStore(StoreBase):
    """Callbacks are deleted softly: their log stays readable to the service, their secret
    is wiped, and their pending deliveries end ``failed`` when next tried."""

    def add(
        self, project: str | None, url: str, events: Sequence[str], secret: str
    ) -> CallbackView:
        row = CallbackRow(
            id=str(uuid.uuid4()), project=project_key(project), url=url,
            events=stored_events(events), secret=secret, created_at=self._clock(),
        )
        with self._transaction() as session:
            session.add(row)
        return _view(row)

    def list_callbacks(self, project: str | None) -> list[CallbackView]:
        """The project's live callbacks, oldest first."""
        with self._transaction() as session:
            rows = session.scalars(
                select(CallbackRow)
                .where(CallbackRow.project == project_key(project),
                       CallbackRow.deleted_at.is_(None))
                .order_by(CallbackRow.created_at, CallbackRow.id)
            ).all()
            return [_view(row) for row in rows]

    def get(self, callback_id: str) -> CallbackView | None:
        """A live callback of any project; ``None`` if unknown or deleted."""
        with self._transaction() as session:
            row = session.get(CallbackRow, callback_id)
            if row is None or row.deleted_at is not None:
                return None
            return _view(row)

    def delete(self, callback_id: str) -> bool:
        """Delete a live callback; whether there was one."""
        with self.engine.begin() as connection:
            deleted = connection.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id, CallbackRow.deleted_at.is_(None))
                .values(deleted_at=self._clock(), secret="")
            )
            return deleted.rowcount == 1

    def deliveries(self, callback_id: str, limit: int) -> list[DeliveryView]:
        """The callback's latest ``limit`` deliveries, newest first."""
        with self._transaction() as session:
            rows = session.scalars(
                select(CallbackDeliveryRow)
                .where(CallbackDeliveryRow.callback_id == callback_id)
                .order_by(CallbackDeliveryRow.created_at.desc(), CallbackDeliveryRow.id.desc())
                .limit(limit)
            ).all()
            return [
                DeliveryView(
                    id=row.id, event=row.event, email_id=row.email_id, status=row.status,
                    attempts=row.attempts, last_status_code=row.last_status_code,
                    last_error=row.last_error, next_at=row.next_at, created_at=row.created_at,
                    delivered_at=row.delivered_at,
                )
                for row in rows
            ]


def _view(row: CallbackRow) -> CallbackView:
    return CallbackView(row.id, row.project or None, row.url, loaded_events(row.events),
                        row.created_at)


__all__ = ["CallbackStore", "CallbackView", "DeliveryView", "project_key"]
