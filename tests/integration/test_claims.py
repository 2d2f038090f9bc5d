"""Claims and outcomes on SQLite and on a real PostgreSQL: an outcome applies only under the claim
it belongs to (a late worker cannot undo a newer attempt), and a claim waits for the due time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.store.claims import STALE_OUTCOME_NOTE, AttemptRecord
from tests.support.fakes import FakeClock, Stores, make_new_email, stores_in, stores_on

LEASE = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Stores]:
    with stores_in(request.param, tmp_path, clock) as stores:
        yield stores


def a_try(provider: str, clock: FakeClock, outcome: Outcome = Outcome.FAILED) -> ProviderTry:
    error = None if outcome is Outcome.SENT else f"{provider}: HTTP 503"
    return ProviderTry(provider, clock.now, clock.now + timedelta(seconds=1), outcome,
                       202 if outcome is Outcome.SENT else 503, error)


def sent(email_id: str, attempt: int, clock: FakeClock, provider: str) -> AttemptRecord:
    return AttemptRecord(email_id, attempt, [a_try(provider, clock, Outcome.SENT)], Status.SENT,
                         None, provider=provider, provider_message_id=f"{provider}-1")


def failed(email_id: str, attempt: int, clock: FakeClock) -> AttemptRecord:
    return AttemptRecord(email_id, attempt, [a_try("late", clock)], Status.FAILED,
                         "late: HTTP 503")


def retry(store: Stores, email_id: str, attempt: int, clock: FakeClock) -> AttemptRecord:
    return store.claims.retry_record(email_id, attempt, [a_try("late", clock)], "late: 503", 10)


def take_over(store: Stores, clock: FakeClock, email_id: str) -> None:
    """The first holder's lease runs out and another worker claims the email (attempt 2)."""
    assert store.claims.claim(email_id, LEASE) is not None
    clock.advance(LEASE + 1)
    newer = store.claims.claim(email_id, LEASE)
    assert newer is not None and newer.attempt_number == 2


# -- fencing: an outcome applies only under its own claim -----------------------------------


@pytest.mark.parametrize("late", ["sent", "failed", "retry"])
def test_a_stale_holder_recording_after_a_newer_claim_changes_nothing_but_keeps_its_tries(
    store: Stores, clock: FakeClock, late: str
) -> None:
    email_id = store.add()
    take_over(store, clock, email_id)
    before = store.row(email_id)
    stale = {"sent": sent(email_id, 1, clock, "late"), "failed": failed(email_id, 1, clock),
             "retry": retry(store, email_id, 1, clock)}[late]

    applied = store.claims.record([stale])

    after = store.row(email_id)
    assert (after.status, after.attempt_count, after.claimed_until, after.due_at) == (
        Status.SENDING, 2, before.claimed_until, before.due_at
    )
    assert (after.provider, after.provider_message_id, after.error) == (None, None, None)
    assert applied == [False]
    assert [(a.attempt_number, a.provider, a.outcome) for a in after.attempts] == [
        (1, "late", stale.tries[0].outcome.value)
    ]
    assert STALE_OUTCOME_NOTE in (after.attempts[0].error or "")


@pytest.mark.parametrize("late", ["failed", "retry"])
def test_a_late_failure_cannot_undo_a_newer_attempts_send(
    store: Stores, clock: FakeClock, late: str
) -> None:
    email_id = store.add()
    take_over(store, clock, email_id)
    assert store.claims.record([sent(email_id, 2, clock, "newer")]) == [True]

    stale = failed(email_id, 1, clock) if late == "failed" else retry(store, email_id, 1, clock)
    applied = store.claims.record([stale])

    after = store.row(email_id)
    assert (after.status, after.provider, after.provider_message_id, after.error) == (
        Status.SENT, "newer", "newer-1", None
    )
    assert applied == [False]
    assert store.claims.claim(email_id, LEASE) is None, "a sent email is never sent again"


def test_in_one_group_the_current_holders_outcomes_apply_and_the_stale_ones_do_not(
    store: Stores, clock: FakeClock
) -> None:
    taken_over = store.add()
    take_over(store, clock, taken_over)
    current = store.add()
    assert store.claims.claim(current, LEASE) is not None

    applied = store.claims.record([
        failed(taken_over, 1, clock),
        sent(current, 1, clock, "a"),
        sent(taken_over, 2, clock, "b"),
    ])

    assert applied == [False, True, True]
    assert (store.row(current).status, store.row(current).provider) == (Status.SENT, "a")
    assert (store.row(taken_over).status, store.row(taken_over).provider) == (Status.SENT, "b")
    errors = {a.attempt_number: a.error or "" for a in store.row(taken_over).attempts}
    assert STALE_OUTCOME_NOTE in errors[1] and STALE_OUTCOME_NOTE not in errors[2]


def test_an_outcome_still_applies_when_the_sweeper_rearmed_the_email_but_nobody_claimed_it(
    store: Stores, clock: FakeClock
) -> None:
    """The claim number is the fence: an expired lease alone does not make a result stale,
    and keeping it spares the provider a second send."""
    email_id = store.add()
    assert store.claims.claim(email_id, LEASE) is not None
    clock.advance(LEASE + 1)
    assert store.sweeps.sweep(sweep_after=60) == [email_id]

    assert store.claims.record([sent(email_id, 1, clock, "a")]) == [True]

    assert (store.row(email_id).status, store.row(email_id).provider) == (Status.SENT, "a")
    assert store.claims.claim(email_id, LEASE) is None, "the republished task is a no-op"


def test_recording_the_same_outcome_twice_applies_it_once(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    assert store.claims.claim(email_id, LEASE) is not None

    assert store.claims.record([sent(email_id, 1, clock, "a")]) == [True]
    again = store.claims.record([failed(email_id, 1, clock)])

    assert (store.row(email_id).status, store.row(email_id).error) == (Status.SENT, None)
    assert again == [False]


# -- due times: a claim waits out a backoff or a Retry-After ---------------------------------


def test_a_claim_refuses_an_email_waiting_out_its_backoff_until_it_is_due(
    store: Stores, clock: FakeClock
) -> None:
    email_id = store.add()
    assert store.claims.claim(email_id, LEASE) is not None
    assert store.claims.record([retry(store, email_id, 1, clock)]) == [True]  # due in 10 s

    clock.advance(9)
    early = store.claims.claim_many([email_id], LEASE)
    after_early = store.row(email_id)
    clock.advance(1)
    due = store.claims.claim(email_id, LEASE)

    assert early == {}
    assert (after_early.status, after_early.attempt_count) == (Status.QUEUED, 1)
    assert due is not None and due.attempt_number == 2


def test_a_new_or_rearmed_email_is_claimable_even_by_a_clock_a_little_behind(
    store: Stores, clock: FakeClock
) -> None:
    """A row written due at once (by the API, or the sweeper) on another host's clock must not
    wait for the sweeper because the claiming host's clock is a moment behind."""
    ahead = FakeClock(clock.now + timedelta(seconds=2))
    api_host = stores_on(store.engine, ahead)
    fresh = make_new_email()
    api_host.emails.add_email(fresh)
    rearmed = store.add()
    assert store.claims.claim(rearmed, LEASE) is not None
    clock.advance(LEASE + 1)
    ahead.advance(LEASE + 1)
    assert api_host.sweeps.sweep(sweep_after=60) == [rearmed]

    claimed = store.claims.claim_many([fresh.email_id, rearmed], LEASE)

    assert set(claimed) == {fresh.email_id, rearmed}
