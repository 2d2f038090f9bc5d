"""Idempotency keys in the store: reserved before an email is stored, released when it is
refused, taken over once expired or abandoned, and deleted past their expiry.

A key is completed with its answer by ``EmailStore.add_emails``, in the commit that stores its
email (``store/emails.py``).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    cast,
    column,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert

from micromailer.domain.idempotency import (
    Conflict,
    ConflictReason,
    KeyOutcome,
    KeyRequest,
    Replay,
    Reservation,
)
from micromailer.store.base import StoreBase, UtcClock, utcnow
from micromailer.store.models import IdempotencyKeyRow, UTCDateTime

#: Seconds a reservation holds its key while its request is answered; past it, a crashed
#: process's reservation no longer blocks the key.
LEASE_SECONDS = 60.0
#: Seconds a key keeps its answer, by default (``MICROMAILER_IDEMPOTENCY_TTL``).
DEFAULT_TTL = 24 * 3600.0
#: Reads of a key that keeps changing under a request before it is told to try again.
_SETTLE_TRIES = 3

_KEYS = typing.cast(Table, IdempotencyKeyRow.__table__)


def _insert_many_from_json() -> ReturningInsert[str, str]:
    """``INSERT … SELECT FROM json_to_recordset(…) ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL):
    every new key of a batch in one statement; the keys it returns are reserved."""
    rows = func.json_to_recordset(cast(bindparam("keys"), JSON)).table_valued(
        column("project", Text), column("key", Text), column("fingerprint", Text)
    ).render_derived(name="asked", with_types=True)
    return (
        postgresql.insert(_KEYS)
        .from_select(
            ["project", "key", "fingerprint", "created_at", "expires_at"],
            select(rows.c.project, rows.c.key, rows.c.fingerprint,
                   bindparam("now", type_=UTCDateTime()),
                   bindparam("expires_at", type_=UTCDateTime())),
        )
        .on_conflict_do_nothing(index_elements=["project", "key"])
        .returning(_KEYS.c.project, _KEYS.c.key)
    )


_INSERT_MANY = _insert_many_from_json()


class IdempotencyStore(StoreBase):
    """The ``idempotency_keys`` table: one row per project and key."""

    def __init__(
        self, engine: Engine, clock: UtcClock = utcnow, *, ttl: float = DEFAULT_TTL,
        lease: float = LEASE_SECONDS,
    ) -> None:
        super().__init__(engine, clock)
        self._ttl = timedelta(seconds=ttl)
        self._lease = timedelta(seconds=lease)

    def reserve(self, request: KeyRequest) -> KeyOutcome:
        return self.reserve_many([request])[0]

    def reserve_many(self, requests: Sequence[KeyRequest]) -> list[KeyOutcome]:
        """For each request, in order: its key reserved for it, the key's kept answer to
        replay, or the conflict that refuses it. A key asked twice in one batch is reserved
        for the first request; the second is told it is in progress, as it would be a moment
        later."""
        now = self._clock()
        on_postgresql = self.engine.dialect.name == "postgresql"
        with self._connection() as connection:
            firsts: dict[tuple[str, str], KeyRequest] = {}
            for request in requests:
                firsts.setdefault((request.project, request.key), request)
            inserted = self._insert_many(connection, list(firsts.values()), now) \
                if on_postgresql else set()
            holders: dict[tuple[str, str], KeyRequest] = {}
            outcomes: list[KeyOutcome] = []
            for request in requests:
                name = (request.project, request.key)
                holder = holders.get(name)
                if holder is not None:
                    outcomes.append(Conflict(
                        ConflictReason.IN_PROGRESS if request.fingerprint == holder.fingerprint
                        else ConflictReason.OTHER_REQUEST
                    ))
                    continue
                first = firsts[name] is request
                outcome: KeyOutcome = (
                    Reservation(request.project, request.key, now) if first and name in inserted
                    else self._settle(connection, request, now,
                                      tried_insert=on_postgresql and first)
                )
                if isinstance(outcome, Reservation):
                    holders[name] = request
                outcomes.append(outcome)
        return outcomes

    def release(self, reservation: Reservation) -> bool:
        """Give the key back after its request was refused, so that a corrected request may
        use it; a key already completed, or taken over, stays as it is."""
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(_KEYS).where(*_held(reservation), _KEYS.c.status_code.is_(None))
            )
        return bool(result.rowcount)

    def delete_expired(self, limit: int = 1000) -> int:
        """Delete up to ``limit`` keys past their expiry; how many were deleted."""
        expired = select(_KEYS.c.id).where(_KEYS.c.expires_at <= self._clock()).limit(limit)
        with self.engine.begin() as connection:
            result = connection.execute(delete(_KEYS).where(_KEYS.c.id.in_(expired)))
        return int(result.rowcount)

    # -- the two ways to reserve --------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """PostgreSQL in autocommit (each statement is safe alone, and a new key costs one
        round trip); SQLite in one transaction, holding the write lock from the first insert."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

    def _insert_many(
        self, connection: Connection, requests: list[KeyRequest], now: datetime
    ) -> set[tuple[str, str]]:
        """Insert every key of a batch that is new, in one statement; the ones inserted."""
        asked = [{"project": r.project, "key": r.key, "fingerprint": r.fingerprint}
                 for r in requests]
        rows = connection.execute(
            _INSERT_MANY, {"keys": json.dumps(asked), "now": now, "expires_at": now + self._ttl}
        )
        return {(row.project, row.key) for row in rows}

    def _settle(
        self, connection: Connection, request: KeyRequest, now: datetime,
        *, tried_insert: bool = False,
    ) -> KeyOutcome:
        """One key, one statement at a time: insert it; else read it and replay it, refuse,
        or take it over when expired or abandoned. The insert comes first so that SQLite
        takes its write lock before reading."""
        for _ in range(_SETTLE_TRIES):
            if not tried_insert and self._insert_one(connection, request, now):
                return Reservation(request.project, request.key, now)
            tried_insert = False
            row = connection.execute(
                select(_KEYS).where(_KEYS.c.project == request.project,
                                    _KEYS.c.key == request.key)
            ).first()
            if row is None:  # released or deleted since: insert again
                continue
            if row.expires_at <= now or (
                row.status_code is None and row.created_at <= now - self._lease
            ):
                if self._take_over(connection, row.id, row.created_at, request, now):
                    return Reservation(request.project, request.key, now)
                continue
            if row.fingerprint != request.fingerprint:
                return Conflict(ConflictReason.OTHER_REQUEST)
            if row.status_code is None:
                return Conflict(ConflictReason.IN_PROGRESS)
            return Replay(row.status_code, row.response_body or "", row.email_id)
        return Conflict(ConflictReason.IN_PROGRESS)

    def _insert_one(self, connection: Connection, request: KeyRequest, now: datetime) -> bool:
        insert = (postgresql.insert if connection.dialect.name == "postgresql"
                  else sqlite.insert)(_KEYS)
        result = connection.execute(
            insert.values(project=request.project, key=request.key,
                          fingerprint=request.fingerprint, created_at=now,
                          expires_at=now + self._ttl)
            .on_conflict_do_nothing(index_elements=["project", "key"])
            .returning(_KEYS.c.id)
        )
        return result.first() is not None

    def _take_over(
        self, connection: Connection, row_id: int, seen_at: datetime, request: KeyRequest,
        now: datetime,
    ) -> bool:
        """Make an expired or abandoned key this request's: one conditional ``UPDATE``, so of
        two requests taking it over at once one wins."""
        result = connection.execute(
            update(_KEYS)
            .where(_KEYS.c.id == row_id, _KEYS.c.created_at == seen_at)
            .values(fingerprint=request.fingerprint, status_code=None, response_body=None,
                    email_id=None, created_at=now, expires_at=now + self._ttl)
        )
        return bool(result.rowcount)


def _held(reservation: Reservation) -> tuple[ColumnElement[bool], ...]:
    """The criteria of the row ``reservation`` still holds."""
    return (_KEYS.c.project == reservation.project, _KEYS.c.key == reservation.key,
            _KEYS.c.created_at == reservation.reserved_at)


__all__ = ["DEFAULT_TTL", "LEASE_SECONDS", "IdempotencyStore"]
