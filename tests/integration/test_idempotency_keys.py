"""Idempotency keys in the store, on SQLite and on a real PostgreSQL: reserved, completed in
the commit that stores their email, replayed, refused, released, taken over, cleaned up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from micromailer.delivery.batch import tie_to_key
from micromailer.domain.attempt import NewEmail, Submitter
from micromailer.domain.idempotency import (
    Conflict,
    ConflictReason,
    KeptAnswer,
    KeyRequest,
    Replay,
    Reservation,
)
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.idempotency import LEASE_SECONDS, IdempotencyStore
from micromailer.store.models import AuditEventRow, EmailRow, IdempotencyKeyRow
from tests.support.backends import migrated_database
from tests.support.fakes import T0, FakeClock, make_new_email

TTL = 24 * 3600.0
IN_PROGRESS = Conflict(ConflictReason.IN_PROGRESS)
OTHER_REQUEST = Conflict(ConflictReason.OTHER_REQUEST)


@dataclass
class KeyStores:
    engine: Engine
    clock: FakeClock
    keys: IdempotencyStore
    emails: EmailStore

    def send(self, reservation: Reservation, **overrides: object) -> NewEmail:
        """Store an email under ``reservation``, as the intake does once it has the key."""
        new = with_key(reservation, **overrides)
        self.emails.add_emails([new])
        return new

    def rows(self) -> list[IdempotencyKeyRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(IdempotencyKeyRow).order_by(IdempotencyKeyRow.id)))

    def count(self, model: type[object]) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


def with_key(reservation: Reservation, **overrides: object) -> NewEmail:
    new = make_new_email(**overrides)
    body = '{"status":"queued","emailId":"' + new.email_id + '"}'
    return replace(new, submitter=Submitter("ci", "192.0.2.7", reservation.key),
                   idempotency=KeptAnswer(reservation, 202, body))


def asked(key: str = "order-1", fingerprint: str = "a" * 64, project: str = "shop") -> KeyRequest:
    return KeyRequest(project, key, fingerprint)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStores]:
    clock = FakeClock()
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=2)
        yield KeyStores(engine, clock, IdempotencyStore(engine, clock, ttl=TTL),
                        EmailStore(engine, clock))
        engine.dispose()


def test_a_new_key_is_reserved_in_progress(stores: KeyStores) -> None:
    outcome = stores.keys.reserve(asked())

    assert outcome == Reservation("shop", "order-1", T0)
    [row] = stores.rows()
    assert (row.project, row.key, row.fingerprint) == ("shop", "order-1", "a" * 64)
    assert (row.status_code, row.response_body, row.email_id) == (None, None, None)
    assert (row.expires_at - row.created_at).total_seconds() == TTL


def test_a_key_in_progress_refuses_the_same_request_and_another(stores: KeyStores) -> None:
    stores.keys.reserve(asked())

    assert stores.keys.reserve(asked()) == IN_PROGRESS
    assert stores.keys.reserve(asked(fingerprint="b" * 64)) == OTHER_REQUEST


def test_the_emails_commit_completes_the_key_which_replays_its_answer(stores: KeyStores) -> None:
    reservation = stores.keys.reserve(asked())
    assert isinstance(reservation, Reservation)
    new = stores.send(reservation)

    replay = stores.keys.reserve(asked())

    assert replay == Replay(202, '{"status":"queued","emailId":"' + new.email_id + '"}',
                            new.email_id)
    assert stores.keys.reserve(asked(fingerprint="b" * 64)) == OTHER_REQUEST
    assert stores.count(EmailRow) == 1


def test_keys_are_per_project(stores: KeyStores) -> None:
    stores.keys.reserve(asked(project="shop"))

    assert stores.keys.reserve(asked(project="blog")) == Reservation("blog", "order-1", T0)
    assert stores.keys.reserve(asked(project="")) == Reservation("", "order-1", T0)


def test_a_released_key_serves_a_corrected_request(stores: KeyStores) -> None:
    reservation = stores.keys.reserve(asked())
    assert isinstance(reservation, Reservation)

    assert stores.keys.release(reservation) is True
    corrected = stores.keys.reserve(asked(fingerprint="c" * 64))

    assert corrected == Reservation("shop", "order-1", T0)
    assert [row.fingerprint for row in stores.rows()] == ["c" * 64]


def test_releasing_a_completed_key_keeps_its_answer(stores: KeyStores) -> None:
    reservation = stores.keys.reserve(asked())
    assert isinstance(reservation, Reservation)
    new = stores.send(reservation)

    assert stores.keys.release(reservation) is False
    replay = stores.keys.reserve(asked())
    assert isinstance(replay, Replay) and replay.email_id == new.email_id


def test_an_expired_key_is_taken_over_by_any_request(stores: KeyStores) -> None:
    first = stores.keys.reserve(asked())
    assert isinstance(first, Reservation)
    stores.send(first)
    stores.clock.advance(TTL)

    taken = stores.keys.reserve(asked(fingerprint="d" * 64))

    assert taken == Reservation("shop", "order-1", stores.clock.now)
    [row] = stores.rows()
    assert (row.fingerprint, row.status_code, row.email_id) == ("d" * 64, None, None)
    assert row.expires_at == stores.clock.now + (row.expires_at - row.created_at)


def test_an_abandoned_reservation_is_taken_over_after_its_lease(stores: KeyStores) -> None:
    crashed = stores.keys.reserve(asked())
    assert isinstance(crashed, Reservation)
    stores.clock.advance(LEASE_SECONDS - 1)
    assert stores.keys.reserve(asked()) == IN_PROGRESS

    stores.clock.advance(1)
    taken = stores.keys.reserve(asked())

    assert taken == Reservation("shop", "order-1", stores.clock.now)


def test_a_request_that_lost_its_lease_stores_nothing_and_its_neighbours_are_stored(
    stores: KeyStores,
) -> None:
    slow = stores.keys.reserve(asked())
    assert isinstance(slow, Reservation)
    stores.clock.advance(LEASE_SECONDS)
    winner = stores.keys.reserve(asked())
    assert isinstance(winner, Reservation)
    late, neighbour = with_key(slow), make_new_email()

    stored = stores.emails.add_emails([late, neighbour])

    assert stored.lost == {late.email_id}
    assert stores.emails.get_email(late.email_id) is None
    assert stores.emails.get_email(neighbour.email_id) is not None
    assert stores.count(AuditEventRow) == 1  # the neighbour's only
    # the winner still completes the key, with its own email
    kept = stores.send(winner)
    replay = stores.keys.reserve(asked())
    assert isinstance(replay, Replay) and replay.email_id == kept.email_id


def test_a_batch_reserves_a_key_asked_twice_for_the_first_request_only(
    stores: KeyStores,
) -> None:
    done = stores.keys.reserve(asked("done"))
    assert isinstance(done, Reservation)
    new = stores.send(done)
    stores.keys.reserve(asked("busy"))

    outcomes = stores.keys.reserve_many([
        asked("fresh"), asked("fresh"), asked("fresh", fingerprint="e" * 64),
        asked("done"), asked("done", fingerprint="e" * 64), asked("busy"), asked("other"),
    ])

    assert outcomes[0] == Reservation("shop", "fresh", T0)
    assert outcomes[1:3] == [IN_PROGRESS, OTHER_REQUEST]
    assert isinstance(outcomes[3], Replay) and outcomes[3].email_id == new.email_id
    assert outcomes[4:6] == [OTHER_REQUEST, IN_PROGRESS]
    assert outcomes[6] == Reservation("shop", "other", T0)
    assert sorted(row.key for row in stores.rows()) == ["busy", "done", "fresh", "other"]


def test_expired_keys_are_deleted_in_bounded_batches(stores: KeyStores) -> None:
    for n in range(5):
        stores.keys.reserve(asked(f"old-{n}"))
    stores.clock.advance(TTL / 2)
    stores.keys.reserve(asked("young"))
    stores.clock.advance(TTL / 2)

    assert stores.keys.delete_expired(limit=3) == 3
    assert stores.keys.delete_expired(limit=3) == 2
    assert stores.keys.delete_expired(limit=3) == 0
    assert [row.key for row in stores.rows()] == ["young"]


def test_each_stored_email_has_its_accepted_audit_row_in_the_same_commit(
    stores: KeyStores,
) -> None:
    reservation = stores.keys.reserve(asked())
    assert isinstance(reservation, Reservation)
    keyed = with_key(reservation, project="shop")
    open_one = make_new_email()

    stores.emails.add_emails([keyed, open_one])

    with Session(stores.engine) as session:
        rows = {row.email_id: row for row in session.scalars(select(AuditEventRow))}
    assert set(rows) == {keyed.email_id, open_one.email_id}
    row = rows[keyed.email_id]
    assert (row.at, row.kind, row.key_name, row.project, row.client, row.idempotency_key,
            row.detail) == (T0, "email.accepted", "ci", "shop", "192.0.2.7", "order-1", None)
    row = rows[open_one.email_id]
    assert (row.key_name, row.project, row.client, row.idempotency_key) == (
        None, None, None, None)


def test_a_batch_completes_its_key_once_with_its_answer_and_stores_every_email(
    stores: KeyStores,
) -> None:
    reservation = stores.keys.reserve(asked())
    assert isinstance(reservation, Reservation)
    batch = tie_to_key([make_new_email() for _ in range(3)], reservation, '{"results":[]}')

    stored = stores.emails.add_emails([*batch, make_new_email()])

    assert stored.lost == frozenset()
    assert stores.count(EmailRow) == 4
    replay = stores.keys.reserve(asked())
    assert replay == Replay(207, '{"results":[]}', batch[0].email_id)


def test_a_batch_whose_key_was_taken_over_stores_none_of_its_emails(stores: KeyStores) -> None:
    slow = stores.keys.reserve(asked())
    assert isinstance(slow, Reservation)
    stores.clock.advance(LEASE_SECONDS)
    assert isinstance(stores.keys.reserve(asked()), Reservation)
    batch = tie_to_key([make_new_email() for _ in range(3)], slow, '{"results":[]}')
    neighbour = make_new_email()

    stored = stores.emails.add_emails([*batch, neighbour])

    assert stored.lost == {new.email_id for new in batch}
    assert stores.count(EmailRow) == 1
    assert stores.emails.get_email(neighbour.email_id) is not None
