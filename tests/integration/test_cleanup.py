"""The worker's cleaner on a real store: expired idempotency keys and audit events past their
retention are deleted, a batch at a time, and nothing younger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from micromailer.domain.audit import AuditKind
from micromailer.domain.idempotency import Conflict, ConflictReason, KeyRequest, Reservation
from micromailer.queue.cleanup import Cleaned, Cleaner, clean_once
from micromailer.store.audit import AuditStore
from micromailer.store.engine import make_engine
from micromailer.store.idempotency import IdempotencyStore
from tests.support.backends import migrated_database
from tests.support.fakes import FakeClock

DAY = 86400.0
IN_PROGRESS = Conflict(ConflictReason.IN_PROGRESS)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=2)
        yield engine
        engine.dispose()


def test_expired_keys_and_old_events_go_and_the_rest_stays(engine: Engine) -> None:
    clock = FakeClock()
    keys = IdempotencyStore(engine, clock, ttl=DAY)
    audit = AuditStore(engine, clock)
    for n in range(7):
        keys.reserve(KeyRequest("shop", f"old-{n}", "f" * 64))
        audit.record(AuditKind.KEY_CREATED, key_name=f"old-{n}")
    clock.advance(31 * DAY)
    keys.reserve(KeyRequest("shop", "young", "f" * 64))
    audit.record(AuditKind.KEY_CREATED, key_name="young")

    cleaned = clean_once(keys, audit, retention_days=30, batch=3)

    assert (cleaned.keys, cleaned.events) == (7, 7)
    assert keys.reserve(KeyRequest("shop", "young", "f" * 64)) == IN_PROGRESS  # still held
    assert isinstance(keys.reserve(KeyRequest("shop", "old-0", "f" * 64)), Reservation)  # new
    assert [event.key_name for event in audit.events()] == ["young"]
    assert clean_once(keys, audit, retention_days=30, batch=3) == Cleaned(0, 0)


def test_events_within_the_retention_are_kept(engine: Engine) -> None:
    clock = FakeClock()
    audit = AuditStore(engine, clock)
    audit.record(AuditKind.KEY_CREATED, key_name="kept")
    clock.advance(29 * DAY)

    cleaned = clean_once(IdempotencyStore(engine, clock), audit, retention_days=30)

    assert cleaned.events == 0
    assert [event.key_name for event in audit.events()] == ["kept"]


def test_the_cleaner_thread_cleans_at_start_and_stops(engine: Engine) -> None:
    clock = FakeClock()
    keys = IdempotencyStore(engine, clock, ttl=1)
    keys.reserve(KeyRequest("", "k", "f" * 64))
    clock.advance(2)
    cleaner = Cleaner(keys, AuditStore(engine, clock), retention_days=1, interval=3600)

    cleaner.start()
    cleaner.stop()
    cleaner.join(timeout=30)

    assert not cleaner.is_alive()
    assert keys.delete_expired() == 0  # the cleaner took it
