"""Provider events into the store: matched to their email, kept once, the status moved forward,
for a hard bounce or a complaint the recipient suppressed, and the project's callbacks told,
all in one transaction."""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from micromailer.callbacks.events import CALLBACK_EVENTS
from micromailer.domain.events import ProviderEvent, status_after
from micromailer.domain.status import Status
from micromailer.store.base import StoreBase
from micromailer.store.callback_outbox import enqueue_callbacks
from micromailer.store.models import EmailEventRow, EmailRow
from micromailer.store.suppressions import suppress_in

#: Longest detail kept from a provider, in characters.
DETAIL_LENGTH = 500


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An email's status moved by an event: what callbacks are told."""

    email_id: str
    project: str | None
    status: Status
    event: ProviderEvent


@dataclass(slots=True)
class Recorded:
    """What recording a request's events did."""

    recorded: int = 0
    duplicates: int = 0
    #: Events of no email this store knows (or, for sandbox events, of a real email).
    unmatched: int = 0
    changes: list[StatusChange] = field(default_factory=list)
    #: The callback deliveries the events made, to publish once committed.
    callbacks: list[str] = field(default_factory=list)


class EventStore(StoreBase):
    """Writes providers' events."""

    def record(
        self, events: Sequence[ProviderEvent], *, sandbox: bool, sandbox_mode: bool = False
    ) -> Recorded:
        """Keep each event once, move its email's status, suppress a hard bounce's or a
        complaint's recipient. ``sandbox`` events (verified only by the sandbox's public keys)
        reach only test emails, or any email when the deployment is in sandbox mode."""
        result = Recorded()
        now = self._clock()
        with self._transaction() as session:
            for event in events:
                email = _email_of(session, event)
                if email is None or (sandbox and not (sandbox_mode or email.test)):
                    result.unmatched += 1
                    continue
                if not _insert_once(session, email.id, event, now):
                    result.duplicates += 1
                    continue
                result.recorded += 1
                change = _move(session, email, event, now)
                if change is not None:
                    result.changes.append(change)
                if event.type.value in CALLBACK_EVENTS:
                    result.callbacks += enqueue_callbacks(
                        session, email.project, email.id, event.type.value,
                        status=change.status.value if change else email.status,
                        data=_callback_data(event), at=event.at, now=now)
                if event.suppresses and event.recipient:
                    suppress_in(session, email.project or "", event.recipient,
                                reason=event.type.value, detail=event.detail,
                                email_id=email.id, now=now)
        return result


def _callback_data(event: ProviderEvent) -> dict[str, str]:
    """What a callback is told of a provider's event, beside the email's id and status."""
    data = {"provider": event.provider, "recipient": event.recipient,
            "bounce": event.bounce.value if event.bounce else None, "detail": event.detail}
    return {key: value for key, value in data.items() if value is not None}


def _email_of(session: Session, event: ProviderEvent) -> EmailRow | None:
    """The email an event is about: by the id micromailer sent along, else by the provider's
    message id (with the provider, as two providers' ids may meet)."""
    query = select(EmailRow).options(lazyload(EmailRow.attempts)).limit(1)
    if event.email_id:
        email = session.scalars(query.where(EmailRow.id == event.email_id)).first()
        if email is not None:
            return email
    if event.message_id:
        return session.scalars(query.where(EmailRow.provider_message_id == event.message_id,
                                           EmailRow.provider == event.provider)).first()
    return None


def _insert_once(session: Session, email_id: str, event: ProviderEvent, now: object) -> bool:
    """Insert the event unless the provider sent it before (its key is unique)."""
    exists = session.scalar(select(EmailEventRow.id).where(
        EmailEventRow.provider == event.provider, EmailEventRow.event_key == event.event_id))
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(insert(EmailEventRow).values(
                email_id=email_id, provider=event.provider, event_key=event.event_id[:255],
                type=event.type.value, bounce=event.bounce.value if event.bounce else None,
                recipient=event.recipient[:320] if event.recipient else None,
                detail=event.detail[:DETAIL_LENGTH] if event.detail else None,
                at=event.at, received_at=now, raw=json.dumps(event.raw, default=str),
            ))
    except IntegrityError:  # the same event, recorded by another request meanwhile
        return False
    return True


def _move(
    session: Session, email: EmailRow, event: ProviderEvent, now: object
) -> StatusChange | None:
    """Move the email's status forward, conditionally on the status read: a concurrent
    event that moved it first wins, and this one is judged again against its result."""
    while True:
        current = Status(email.status)
        target = status_after(current, event.type)
        if target is None:
            return None
        moved = typing.cast(CursorResult[Any], session.execute(
            update(EmailRow).where(EmailRow.id == email.id, EmailRow.status == current.value)
            .values(status=target.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )).rowcount
        if moved:
            return StatusChange(email.id, email.project, target, event)
        session.refresh(email)


__all__ = ["DETAIL_LENGTH", "EventStore", "Recorded", "StatusChange"]
