"""The audit log on a real store: refused authentications sampled per minute under a flood,
with one row counting the rest; key prefixes only of micromailer keys; reads and retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from micromailer.domain.audit import AuditKind
from micromailer.security.audit import AuditLog
from micromailer.store.audit import AuditStore
from micromailer.store.engine import make_engine
from tests.support.backends import migrated_database
from tests.support.fakes import T0, FakeClock

PER_MINUTE = 60
REASON = "This API key is not valid: it is unknown or was revoked."


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=2)
        yield AuditStore(engine, FakeClock())
        engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(seconds=5))


def test_a_flood_of_refusals_is_recorded_up_to_the_minutes_quota_and_counted_beyond(
    store: AuditStore, clock: FakeClock,
) -> None:
    log = AuditLog(store, per_minute=PER_MINUTE, clock=clock)
    for n in range(500):
        log.refused("203.0.113.9" if n % 10 else "198.51.100.4", "mm_live_AbCd", REASON)
    log.flush()

    recorded = store.events(limit=1000)
    assert len(recorded) == PER_MINUTE
    assert {event.kind for event in recorded} == {AuditKind.AUTH_REFUSED}
    assert recorded[0].detail == f"{REASON} (key mm_live_AbCd…)"

    clock.advance(60)  # the minute ends: its count is written
    log.flush()

    [summary] = store.events(since=T0 + timedelta(minutes=1), limit=1000)
    assert summary.kind == AuditKind.AUTH_REFUSED_UNSAMPLED
    assert summary.at == T0 + timedelta(minutes=1)
    assert summary.client == "203.0.113.9"
    assert summary.detail is not None and summary.detail.startswith(
        "440 more refused authentications from 12:00 to 12:01 UTC")
    assert "203.0.113.9 (396)" in summary.detail and "198.51.100.4 (44)" in summary.detail


def test_each_minute_has_its_own_quota(store: AuditStore, clock: FakeClock) -> None:
    log = AuditLog(store, per_minute=3, clock=clock)
    for _ in range(5):
        log.refused("192.0.2.1", None, REASON)
    clock.advance(60)
    for _ in range(2):
        log.refused("192.0.2.1", None, REASON)
    log.close()

    kinds = [event.kind for event in store.events(limit=100)]
    assert kinds == [AuditKind.AUTH_REFUSED] * 3 + [AuditKind.AUTH_REFUSED_UNSAMPLED] + [
        AuditKind.AUTH_REFUSED] * 2


def test_closing_writes_the_current_minutes_count(store: AuditStore, clock: FakeClock) -> None:
    log = AuditLog(store, per_minute=1, clock=clock)
    for _ in range(4):
        log.refused(None, None, REASON)

    log.close()

    summary = store.events(limit=10)[-1]
    assert summary.kind == AuditKind.AUTH_REFUSED_UNSAMPLED
    assert summary.detail is not None and summary.detail.startswith("3 more")


def test_only_a_micromailer_keys_prefix_is_kept_never_a_foreign_tokens(
    store: AuditStore, clock: FakeClock,
) -> None:
    log = AuditLog(store, clock=clock)
    log.refused("192.0.2.1", "hunter2-pass", REASON)
    log.refused("192.0.2.1", "mm_test_Wxyz", REASON)
    log.flush()

    details = [event.detail for event in store.events()]
    assert details == [f"{REASON} (a token that is not a micromailer key)",
                       f"{REASON} (key mm_test_Wxyz…)"]
    with store.engine.connect() as connection:
        dump = " ".join(str(row) for row in connection.execute(text("SELECT * FROM audit_events")))
    assert "hunter2" not in dump


def test_events_the_store_could_not_take_are_written_later(
    store: AuditStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = AuditLog(store, clock=clock)
    log.refused("192.0.2.1", None, REASON)
    real = store.record_many

    def down(*_: object) -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(store, "record_many", down)
    log.flush()
    monkeypatch.setattr(store, "record_many", real)
    log.refused("192.0.2.2", None, REASON)
    log.flush()

    assert [event.client for event in store.events()] == ["192.0.2.1", "192.0.2.2"]


def test_without_a_store_refusals_are_not_recorded(clock: FakeClock) -> None:
    log = AuditLog(None, clock=clock)
    log.refused("192.0.2.1", None, REASON)
    log.close()


def test_events_read_back_newest_within_the_limit_oldest_first(store: AuditStore) -> None:
    clock = FakeClock(T0, tick=60)
    store = AuditStore(store.engine, clock)
    for n in range(5):
        store.record(AuditKind.KEY_CREATED, key_name=f"key{n}", project="p")

    assert [e.key_name for e in store.events(limit=3)] == ["key2", "key3", "key4"]
    assert [e.key_name for e in store.events(since=T0 + timedelta(minutes=3))] == [
        "key3", "key4"]


def test_old_events_are_deleted_in_bounded_batches(store: AuditStore) -> None:
    clock = FakeClock(T0)
    store = AuditStore(store.engine, clock)
    for n in range(5):
        store.record(AuditKind.KEY_CREATED, key_name=f"old{n}")
    clock.advance(86400 * 10)
    store.record(AuditKind.KEY_CREATED, key_name="recent")

    assert store.delete_older_than(timedelta(days=9), limit=2) == 2
    assert store.delete_older_than(timedelta(days=9), limit=10) == 3
    assert [e.key_name for e in store.events()] == ["recent"]
