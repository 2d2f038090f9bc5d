"""The sweeper republishes a backlog in batches, and keeps what it could not publish."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from micromailer.domain.attempt import NewEmail
from micromailer.queue.sweeper import SWEEP_BATCH, sweep_once
from tests.support.fakes import FakeClock, Stores, make_new_email, migrated_stores


def test_a_backlog_larger_than_a_batch_is_republished_once_each_in_batches(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    store = migrated_stores(tmp_path, clock)
    ids = [email.email_id for email in _add(store, SWEEP_BATCH * 2 + 7)]
    clock.advance(120)
    batches: list[list[str]] = []

    count = sweep_once(store.sweeps, lambda swept: batches.append(list(swept)), sweep_after=60)

    assert count == len(ids)
    assert sorted(email_id for batch in batches for email_id in batch) == sorted(ids)
    assert [len(batch) for batch in batches] == [SWEEP_BATCH, SWEEP_BATCH, 7]


def test_emails_whose_republish_failed_are_swept_again_later(tmp_path: Path) -> None:
    clock = FakeClock()
    store = migrated_stores(tmp_path, clock)
    ids = [email.email_id for email in _add(store, 3)]
    clock.advance(120)

    def broker_down(swept: Sequence[str]) -> None:
        raise ConnectionError("broker down")

    assert sweep_once(store.sweeps, broker_down, sweep_after=60) == 0
    published: list[str] = []
    again = sweep_once(store.sweeps, published.extend, sweep_after=60)
    assert again == 0, "re-armed: due again later"
    clock.advance(61)
    assert sweep_once(store.sweeps, published.extend, sweep_after=60) == 3
    assert sorted(published) == sorted(ids)


def _add(store: Stores, count: int) -> list[NewEmail]:
    emails = [make_new_email() for _ in range(count)]
    store.emails.add_emails(emails)
    return emails
