"""The callback outbox: an email's event becomes deliveries in the transaction that records it.

Call :func:`enqueue_callbacks` (one email, its project known) or :func:`enqueue_email_events`
(many emails, their projects looked up) with the connection or session of the transaction
that moves the email. Each callback of the email's project subscribed to the event gets one
``callback_deliveries`` row, ``pending`` and due now, holding the signed body to be; so the
event is told if and only if the move commits. After the commit, publish the ids returned
(``queue/callback_publisher.py``) for a prompt delivery; what is not published, the
sweeper publishes after ``MICROMAILER_SWEEP_AFTER``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from micromailer.callbacks.events import CALLBACK_EVENTS, TYPE_PREFIX, subscribed
from micromailer.callbacks.tokens import new_webhook_id
from micromailer.store.base import utcnow
from micromailer.store.callbacks import project_key
from micromailer.store.models import CallbackDeliveryRow, CallbackRow, EmailRow

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class EmailEvent:
    """Something that happened to an email, as its callbacks are told it."""

    email_id: str
    #: One of ``CALLBACK_EVENTS``: ``sent``, ``failed``, ``delivered``, ``bounced``…
    event: str
    #: The email's status once the event is applied.
    status: str
    #: When it happened.
    at: datetime
    #: More fields for the payload's ``data`` (``provider``, ``error``…), camelCase.
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event not in CALLBACK_EVENTS:
            raise ValueError(f"not a callback event: {self.event!r}; one of {CALLBACK_EVENTS}")

    def payload(self) -> str:
        """The JSON body: ``{"type": "email.<event>", "timestamp", "data": {"emailId",
        "status", …}}``."""
        return json.dumps(
            {
                "type": TYPE_PREFIX + self.event,
                "timestamp": iso_timestamp(self.at),
                "data": {"emailId": self.email_id, "status": self.status, **self.data},
            },
            separators=(",", ":"),
        )


def enqueue_callbacks(
    connection: Connection | Session,
    project: str | None,
    email_id: str,
    event: str,
    *,
    status: str,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Add a delivery of ``event`` about ``email_id`` for each callback of ``project``
    (the email's, ``None`` when it has none) that wants it; the new deliveries' ids."""
    now = now or utcnow()
    one = EmailEvent(email_id, event, status, at or now, data or {})
    callbacks = connection.execute(
        select(CallbackRow.id, CallbackRow.events)
        .where(CallbackRow.project == project_key(project), CallbackRow.deleted_at.is_(None))
    ).all()
    return _insert(connection, [(one, row.id, row.events) for row in callbacks], now)


def enqueue_email_events(
    connection: Connection | Session, events: Sequence[EmailEvent], now: datetime | None = None
) -> list[str]:
    """:func:`enqueue_callbacks` for many emails in two statements, each email's project read
    in the same transaction; the new deliveries' ids. One round trip when no callback of
    their projects exists."""
    if not events:
        return []
    now = now or utcnow()
    matches = connection.execute(
        select(EmailRow.id, CallbackRow.id.label("callback_id"), CallbackRow.events)
        .join(CallbackRow, CallbackRow.project == func.coalesce(EmailRow.project, ""))
        .where(EmailRow.id.in_({event.email_id for event in events}),
               CallbackRow.deleted_at.is_(None))
    ).all()
    by_email: dict[str, list[tuple[str, str]]] = {}
    for row in matches:
        by_email.setdefault(row.id, []).append((row.callback_id, row.events))
    wanted = [(event, callback_id, column) for event in events
              for callback_id, column in by_email.get(event.email_id, ())]
    return _insert(connection, wanted, now)


def _insert(
    connection: Connection | Session, candidates: Sequence[tuple[EmailEvent, str, str]],
    now: datetime,
) -> list[str]:
    ids: list[str] = []
    rows: list[dict[str, object]] = []
    for event, callback_id, column in candidates:
        if subscribed(column, event.event):
            ids.append(new_webhook_id(now))
            rows.append({
                "id": ids[-1], "callback_id": callback_id,
                "email_id": event.email_id, "event": event.event, "payload": event.payload(),
                "status": PENDING, "attempts": 0, "next_at": now, "created_at": now,
            })
    if rows:
        connection.execute(insert(CallbackDeliveryRow), rows)
    return ids


def iso_timestamp(at: datetime) -> str:
    """``2026-12-05T16:30:00.123Z``: UTC, milliseconds."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["PENDING", "EmailEvent", "enqueue_callbacks", "enqueue_email_events", "iso_timestamp"]
