"""Each project's suppression list: addresses it no longer sends to, because they bounced hard,
complained, or were added by hand. Addresses are kept in lower case."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from micromailer.store.base import StoreBase
from micromailer.store.models import SuppressionRow

#: Why an address is on the list, besides the event types that put it there.
MANUAL = "manual"
#: Most addresses looked up in one query.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Suppression:
    address: str
    reason: str
    detail: str | None
    email_id: str | None
    created_at: datetime


def suppress_in(
    session: Session, project: str, address: str, *, reason: str, detail: str | None,
    email_id: str | None, now: datetime,
) -> bool:
    """Add ``address`` to ``project``'s list within ``session``'s transaction; ``False`` when
    it was there already."""
    address = address.strip().lower()[:320]
    exists = session.scalar(select(SuppressionRow.id).where(
        SuppressionRow.project == project, SuppressionRow.address == address))
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(insert(SuppressionRow).values(
                project=project, address=address, reason=reason,
                detail=detail[:500] if detail else None, email_id=email_id, created_at=now))
    except IntegrityError:  # added by another request meanwhile
        return False
    return True


class SuppressionStore(StoreBase):
    """Reads and writes of the suppression lists."""

    def list(self, project: str, *, limit: int = 100, after: str | None = None
             ) -> list[Suppression]:
        """``project``'s suppressed addresses in address order, from after ``after``."""
        query = (select(SuppressionRow).where(SuppressionRow.project == project)
                 .order_by(SuppressionRow.address).limit(limit))
        if after is not None:
            query = query.where(SuppressionRow.address > after.lower())
        with self._sessions() as session:
            return [_suppression(row) for row in session.scalars(query)]

    def get(self, project: str, address: str) -> Suppression | None:
        with self._sessions() as session:
            row = session.scalars(select(SuppressionRow).where(
                SuppressionRow.project == project,
                SuppressionRow.address == address.strip().lower())).first()
            return _suppression(row) if row is not None else None

    def add(self, project: str, addresses: Iterable[str], *, reason: str = MANUAL,
            detail: str | None = None) -> int:
        """Add addresses by hand; how many were not on the list before."""
        now = self._clock()
        with self._transaction() as session:
            return sum(suppress_in(session, project, address, reason=reason, detail=detail,
                                   email_id=None, now=now) for address in addresses)

    def remove(self, project: str, address: str) -> bool:
        """Take ``address`` off ``project``'s list; ``False`` when it was not on it."""
        with self._transaction() as session:
            removed = typing.cast(CursorResult[Any], session.execute(
                delete(SuppressionRow).where(SuppressionRow.project == project,
                                             SuppressionRow.address == address.strip().lower())))
            return bool(removed.rowcount)

    def suppressed(self, wanted: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the ``(project, lower-case address)`` pairs are suppressed: one query per
        500 pairs, for a whole group of new emails at once."""
        found: set[tuple[str, str]] = set()
        pairs = sorted(set(wanted))
        with self._sessions() as session:
            for start in range(0, len(pairs), _LOOKUP_CHUNK):
                chunk = pairs[start:start + _LOOKUP_CHUNK]
                rows = session.execute(
                    select(SuppressionRow.project, SuppressionRow.address).where(
                        tuple_(SuppressionRow.project, SuppressionRow.address).in_(chunk)))
                found.update((project, address) for project, address in rows)
        return found


def _suppression(row: SuppressionRow) -> Suppression:
    return Suppression(row.address, row.reason, row.detail, row.email_id, row.created_at)


__all__ = ["MANUAL", "Suppression", "SuppressionStore", "suppress_in"]
