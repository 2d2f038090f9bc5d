"""The store (emails, claims, sweep, health snapshots) on a real SQLite file, migrated by Alembic,
with a hand-moved clock."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.health.base import ProviderHealth
from micromailer.store.claims import AttemptRecord
from micromailer.store.engine import make_engine
from micromailer.store.migrate import alembic_config, upgrade
from micromailer.store.models import Base
from tests.support.fakes import (
    T0,
    FakeClock,
    Stores,
    make_new_email,
    migrated_stores,
    sqlite_url,
    stores_on,
)

LEASE = 30.0


# The worker records outcomes in groups (ClaimStore.record); these record one.


def record_sent(
    store: Stores, email_id: str, attempt: int, tries: list[ProviderTry], provider: str,
    message_id: str,
) -> None:
    store.claims.record([AttemptRecord(email_id, attempt, tries, Status.SENT, None,
                                provider=provider, provider_message_id=message_id)])


def record_failed(
    store: Stores, email_id: str, attempt: int, tries: list[ProviderTry], error: str
) -> None:
    store.claims.record([AttemptRecord(email_id, attempt, tries, Status.FAILED, error)])


def record_retry(
    store: Stores, email_id: str, attempt: int, tries: list[ProviderTry], error: str,
    delay: float,
) -> None:
    store.claims.record([store.claims.retry_record(email_id, attempt, tries, error, delay)])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Stores]:
    store = migrated_stores(tmp_path, clock, pool_size=8)
    yield store
    store.engine.dispose()


def a_try(provider: str, at: datetime, outcome: Outcome = Outcome.FAILED) -> ProviderTry:
    return ProviderTry(provider, at, at + timedelta(seconds=1), outcome, 503, f"{provider}: boom")


# -- add and read ---------------------------------------------------------------------------


def test_an_added_email_reads_back_queued_with_every_field_and_aware_utc_times(
    store: Stores,
) -> None:
    new = make_new_email(to_name="Zoë Ünicode", subject="Größe ✓")

    created_at = store.emails.add_email(new)
    view = store.emails.get_email(new.email_id)

    assert created_at == T0
    assert view is not None
    assert (view.email_id, view.to_email, view.to_name, view.subject) == (
        new.email_id,
        new.to_email,
        "Zoë Ünicode",
        "Größe ✓",
    )
    assert view.status is Status.QUEUED
    assert (view.provider, view.provider_message_id, view.error) == (None, None, None)
    assert view.attempt_count == 0
    assert view.attempts == []
    assert view.created_at == T0 and view.updated_at == T0
    assert view.created_at.tzinfo is not None
    assert view.created_at.utcoffset() == timedelta(0)
    stored = store.row(new.email_id)
    assert (stored.content, stored.html, stored.text) == (new.content, new.html, new.text)
    assert (stored.sender_email, stored.sender_name) == (new.sender_email, new.sender_name)


def test_a_time_in_another_zone_is_stored_and_read_back_as_the_same_instant_in_utc(
    tmp_path: Path,
) -> None:
    paris_noon = datetime(2026, 3, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    store = migrated_stores(tmp_path, FakeClock(paris_noon))
    email_id = store.add()

    view = store.emails.get_email(email_id)

    assert view is not None
    assert view.created_at == paris_noon
    assert view.created_at.tzinfo == UTC
    assert view.created_at.hour == 12 and view.created_at.microsecond == 123456
    store.engine.dispose()


def test_a_naive_datetime_is_refused_rather_than_stored_ambiguously(store: Stores) -> None:
    email_id = store.add()
    naive = datetime(2026, 3, 1, 12, 0, 0)

    with pytest.raises(StatementError, match="naive datetime"):
        record_failed(store, email_id, 1, [a_try("a", naive)], "boom")


def test_an_unknown_email_reads_as_none(store: Stores) -> None:
    assert store.emails.get_email("00000000-0000-0000-0000-000000000000") is None


def test_attempt_rows_read_back_in_order_with_every_field(store: Stores) -> None:
    email_id = store.add()
    store.claims.claim(email_id, LEASE)
    tries = [
        ProviderTry("a", T0, T0 + timedelta(milliseconds=5), Outcome.FAILED, 503, "a: HTTP 503"),
        ProviderTry(
            "b", T0 + timedelta(milliseconds=6), T0 + timedelta(milliseconds=9), Outcome.SENT
        ),
    ]

    record_sent(store, email_id, 1, tries, "b", "b-42")
    view = store.emails.get_email(email_id)

    assert view is not None
    assert view.status is Status.SENT
    assert (view.provider, view.provider_message_id, view.error) == ("b", "b-42", None)
    assert [
        (
            a.attempt_number,
            a.provider,
            a.started_at,
            a.finished_at,
            a.outcome,
            a.status_code,
            a.error,
        )
        for a in view.attempts
    ] == [
        (1, "a", T0, T0 + timedelta(milliseconds=5), "failed", 503, "a: HTTP 503"),
        (
            1,
            "b",
            T0 + timedelta(milliseconds=6),
            T0 + timedelta(milliseconds=9),
            "sent",
            None,
            None,
        ),
    ]
    assert store.row(email_id).claimed_until is None


# -- claim ----------------------------------------------------------------------------------


def test_claim_moves_a_queued_email_to_sending_under_a_lease_as_attempt_one(
    store: Stores, clock: FakeClock
) -> None:
    new = make_new_email()
    store.emails.add_email(new)
    clock.advance(5)

    claim = store.claims.claim(new.email_id, LEASE)

    assert claim is not None
    assert claim.attempt_number == 1
    assert (claim.message.email_id, claim.message.to[0].email, claim.message.html) == (
        new.email_id,
        new.to_email,
        new.html,
    )
    stored = store.row(new.email_id)
    assert stored.status == Status.SENDING
    assert stored.claimed_until == clock.now + timedelta(seconds=LEASE)
    assert stored.attempt_count == 1
    assert stored.updated_at == clock.now


def test_a_second_claim_of_a_held_email_gets_nothing(store: Stores, clock: FakeClock) -> None:
    email_id = store.add()

    first = store.claims.claim(email_id, LEASE)
    clock.advance(LEASE - 1)
    second = store.claims.claim(email_id, LEASE)

    assert first is not None
    assert second is None
    assert store.row(email_id).attempt_count == 1


def test_an_expired_lease_can_be_claimed_again_as_a_new_attempt(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    store.claims.claim(email_id, LEASE)
    clock.advance(LEASE + 1)

    again = store.claims.claim(email_id, LEASE)

    assert again is not None
    assert again.attempt_number == 2
    assert store.row(email_id).claimed_until == clock.now + timedelta(seconds=LEASE)


def test_each_claim_after_a_retry_counts_one_more_attempt(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    numbers = []
    for _ in range(3):
        claim = store.claims.claim(email_id, LEASE)
        assert claim is not None
        numbers.append(claim.attempt_number)
        record_retry(store, email_id, claim.attempt_number, [], "try again", 10.0)
        clock.advance(10.0)

    assert numbers == [1, 2, 3]
    assert store.row(email_id).attempt_count == 3


@pytest.mark.parametrize("final", [Status.SENT, Status.FAILED])
def test_a_final_email_is_never_claimed_however_late(
    store: Stores, clock: FakeClock, final: Status
) -> None:
    email_id = store.add()
    store.claims.claim(email_id, LEASE)
    if final is Status.SENT:
        record_sent(store, email_id, 1, [], "a", "id")
    else:
        record_failed(store, email_id, 1, [], "refused")
    clock.advance(365 * 24 * 3600)

    assert store.claims.claim(email_id, LEASE) is None
    assert store.row(email_id).status == final


def test_an_unknown_email_cannot_be_claimed(store: Stores) -> None:
    assert store.claims.claim("00000000-0000-0000-0000-000000000000", LEASE) is None


def test_a_retry_queues_the_email_due_after_the_delay_and_releases_the_lease(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    store.claims.claim(email_id, LEASE)
    clock.advance(2)

    record_retry(store, email_id, 1, [a_try("a", clock.now)], "a: boom", 12.5)

    stored = store.row(email_id)
    assert stored.status == Status.QUEUED
    assert stored.due_at == clock.now + timedelta(seconds=12.5)
    assert stored.claimed_until is None
    assert stored.error == "a: boom"
    assert [attempt.provider for attempt in stored.attempts] == ["a"]


def test_claim_many_claims_only_the_claimable_ones_in_one_statement(store: Stores) -> None:
    free, held, final = store.add(), store.add(), store.add()
    store.claims.claim(held, LEASE)
    store.claims.claim(final, LEASE)
    record_failed(store, final, 1, [], "refused")

    claims = store.claims.claim_many([free, held, final, "no-such-email"], LEASE)

    assert set(claims) == {free}
    assert claims[free].attempt_number == 1
    assert claims[free].message.email_id == free
    assert store.row(free).status == Status.SENDING


def test_a_group_of_outcomes_gives_each_email_its_own_state_and_tries(
    store: Stores, clock: FakeClock
) -> None:
    sent, failed, again = store.add(), store.add(), store.add()
    store.claims.claim_many([sent, failed, again], LEASE)

    store.claims.record([
        AttemptRecord(sent, 1, [a_try("a", clock.now), a_try("b", clock.now, Outcome.SENT)],
                      Status.SENT, None, provider="b", provider_message_id="b-1"),
        AttemptRecord(failed, 1, [a_try("a", clock.now, Outcome.RECIPIENT_REJECTED)],
                      Status.FAILED, "a: refused"),
        store.claims.retry_record(again, 1, [a_try("a", clock.now)], "a: boom", 60),
    ])

    assert (store.row(sent).status, store.row(sent).provider) == (Status.SENT, "b")
    assert store.row(sent).provider_message_id == "b-1"
    assert [attempt.provider for attempt in store.row(sent).attempts] == ["a", "b"]
    assert (store.row(failed).status, store.row(failed).error) == (Status.FAILED, "a: refused")
    assert store.row(failed).provider is None
    assert len(store.row(failed).attempts) == 1
    assert store.row(again).status == Status.QUEUED
    assert store.row(again).due_at == clock.now + timedelta(seconds=60)
    assert all(store.row(e).claimed_until is None for e in (sent, failed, again))


# -- sweep ----------------------------------------------------------------------------------


def test_sweep_rearms_overdue_queued_and_expired_sending_but_not_fresh_or_final_ones(
    store: Stores, clock: FakeClock
) -> None:
    overdue_queued = store.add()
    expired_sending = store.add()
    store.claims.claim(expired_sending, LEASE)
    live_sending = store.add()
    store.claims.claim(live_sending, 1000)
    sent = store.add()
    store.claims.claim(sent, LEASE)
    record_sent(store, sent, 1, [], "a", "id")
    failed = store.add()
    store.claims.claim(failed, LEASE)
    record_failed(store, failed, 1, [], "refused")
    retry_later = store.add()
    store.claims.claim(retry_later, LEASE)
    record_retry(store, retry_later, 1, [], "boom", 3600)
    clock.advance(100)
    fresh_queued = store.add()

    swept = store.sweeps.sweep(sweep_after=60)

    assert sorted(swept) == sorted([overdue_queued, expired_sending])
    for email_id in swept:
        stored = store.row(email_id)
        assert (stored.status, stored.due_at, stored.claimed_until) == (
            Status.QUEUED,
            clock.now,
            None,
        )
    assert store.row(live_sending).status == Status.SENDING
    assert store.row(sent).status == Status.SENT
    assert store.row(failed).status == Status.FAILED
    assert store.row(retry_later).due_at == T0 + timedelta(seconds=3600)
    assert store.row(fresh_queued).status == Status.QUEUED


def test_a_second_immediate_sweep_returns_nothing(store: Stores, clock: FakeClock) -> None:
    store.add()
    clock.advance(100)
    assert len(store.sweeps.sweep(sweep_after=60)) == 1

    assert store.sweeps.sweep(sweep_after=60) == []


def test_a_swept_email_still_not_picked_up_is_swept_again_after_another_period(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    clock.advance(100)
    store.sweeps.sweep(sweep_after=60)
    clock.advance(59)
    assert store.sweeps.sweep(sweep_after=60) == []
    clock.advance(2)

    assert store.sweeps.sweep(sweep_after=60) == [email_id]


def test_sweep_rearms_at_most_limit_emails_per_call(store: Stores, clock: FakeClock) -> None:
    for _ in range(5):
        store.add()
    clock.advance(100)

    first = store.sweeps.sweep(sweep_after=60, limit=3)
    second = store.sweeps.sweep(sweep_after=60, limit=3)

    assert len(first) == 3
    assert len(second) == 2
    assert not set(first) & set(second)


# -- concurrency (real SQLite in WAL mode) --------------------------------------------------


def run_racers(count: int, race: Any) -> list[list[str]]:
    """Start ``count`` threads at once on ``race(index) -> ids`` and gather their results."""
    barrier = threading.Barrier(count)
    results: list[list[str]] = [[] for _ in range(count)]
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = race(index)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_the_store_runs_sqlite_in_wal_mode(store: Stores) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_eight_threads_racing_to_claim_fifty_emails_claim_each_exactly_once(
    store: Stores,
) -> None:
    ids = [store.add() for _ in range(50)]

    def claim_all(index: int) -> list[str]:
        order = ids[:]
        random.Random(index).shuffle(order)
        return [email_id for email_id in order if store.claims.claim(email_id, 600) is not None]

    won = run_racers(8, claim_all)

    claimed = [email_id for wins in won for email_id in wins]
    assert sorted(claimed) == sorted(ids)
    assert all(store.row(email_id).attempt_count == 1 for email_id in ids)


def test_four_sweepers_racing_rearm_each_stale_email_exactly_once(
    store: Stores, clock: FakeClock
) -> None:
    ids = [store.add() for _ in range(50)]
    clock.advance(100)

    won = run_racers(4, lambda _index: store.sweeps.sweep(sweep_after=60))

    swept = [email_id for wins in won for email_id in wins]
    assert sorted(swept) == sorted(ids)


# -- health snapshots ----------------------------------------------------------------------


def test_saved_health_loads_back_with_base_score_left_to_the_config(store: Stores) -> None:
    store.snapshots.save_health(
        [
            ProviderHealth("sendgrid", 50.0, 0.729, 1_772_366_400.25),
            ProviderHealth("mandrill", 49.0, 1.0, None),
        ]
    )

    loaded = {state.name: state for state in store.snapshots.load_health()}

    assert loaded == {
        "sendgrid": ProviderHealth("sendgrid", 0.0, 0.729, 1_772_366_400.25),
        "mandrill": ProviderHealth("mandrill", 0.0, 1.0, None),
    }


def test_saving_health_again_replaces_each_providers_snapshot(store: Stores) -> None:
    store.snapshots.save_health([ProviderHealth("sendgrid", 50.0, 0.9, 100.0)])
    store.snapshots.save_health([ProviderHealth("sendgrid", 50.0, 0.91, None)])

    assert store.snapshots.load_health() == [ProviderHealth("sendgrid", 0.0, 0.91, None)]


def test_no_saved_health_loads_as_an_empty_list(store: Stores) -> None:
    assert store.snapshots.load_health() == []


# -- migrations -----------------------------------------------------------------------------


def test_upgrading_twice_is_a_no_op_that_keeps_the_data(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    upgrade(url)
    store = stores_on(make_engine(url))
    email_id = store.add()
    tables_before = sorted(inspect(store.engine).get_table_names())

    upgrade(url)

    assert store.emails.get_email(email_id) is not None
    assert sorted(inspect(store.engine).get_table_names()) == tables_before
    with store.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(head,)]
    store.engine.dispose()


def test_the_schema_alembic_creates_matches_the_models(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)

    assert diffs == []
    engine.dispose()


def test_the_migrated_schema_has_every_model_table(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)

    tables = set(inspect(engine).get_table_names())

    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    engine.dispose()
