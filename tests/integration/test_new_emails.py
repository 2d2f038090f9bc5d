"""Storing groups of new emails (the intake's commit), on SQLite and on a real PostgreSQL,
where the group is one ``INSERT … SELECT FROM json_to_recordset(…)`` rather than an
``executemany``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from micromailer.domain.status import Status
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade
from micromailer.store.models import EmailRow
from tests.support.backends import fresh_backends
from tests.support.fakes import T0, FakeClock, make_new_email, migrated_stores


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmailStore]:
    if request.param == "sqlite":
        store = migrated_stores(tmp_path, FakeClock()).emails
        yield store
        store.engine.dispose()
        return
    with fresh_backends() as backends:
        upgrade(backends.database_url)
        store = EmailStore(make_engine(backends.database_url), clock=FakeClock())
        yield store
        store.engine.dispose()


def stored_rows(store: EmailStore) -> dict[str, EmailRow]:
    with Session(store.engine) as session:
        return {row.id: row for row in session.scalars(select(EmailRow))}


def test_a_group_reads_back_queued_with_every_field_as_given(store: EmailStore) -> None:
    news = [
        make_new_email(),
        make_new_email(to_name=None, subject="Größe ✓ \"quoted\", {braced}",
                       content="a\nb\\c\t'd'", html="<p>€</p>", text="NULL"),
        make_new_email(to_email="zoë@exämple.org", sender_name="Zoë"),
    ]

    created_at = store.add_emails(news).created_at

    assert created_at == T0
    rows = stored_rows(store)
    assert set(rows) == {new.email_id for new in news}
    for new in news:
        stored = rows[new.email_id]
        assert (stored.to_email, stored.to_name, stored.subject, stored.content, stored.html,
                stored.text, stored.sender_email, stored.sender_name) == (
            new.to_email, new.to_name, new.subject, new.content, new.html, new.text,
            new.sender_email, new.sender_name)
        assert (stored.status, stored.attempt_count) == (Status.QUEUED.value, 0)
        assert stored.due_at == stored.created_at == stored.updated_at == T0
        assert (stored.provider, stored.error, stored.claimed_until) == (None, None, None)
        view = store.get_email(new.email_id)
        assert view is not None and view.status is Status.QUEUED and view.attempts == []


def test_a_group_with_an_id_already_stored_stores_none_of_it(store: EmailStore) -> None:
    first = make_new_email()
    store.add_emails([first])
    group = [make_new_email(), make_new_email(email_id=first.email_id), make_new_email()]

    with pytest.raises(IntegrityError):
        store.add_emails(group)

    assert set(stored_rows(store)) == {first.email_id}


def test_an_empty_group_stores_nothing(store: EmailStore) -> None:
    store.add_emails([])

    with Session(store.engine) as session:
        assert session.scalar(select(func.count()).select_from(EmailRow)) == 0


def test_a_transaction_after_a_group_still_rolls_back(store: EmailStore) -> None:
    """On PostgreSQL the group is stored in autocommit; the pooled connection must come back
    transactional for whoever takes it next."""
    store.add_emails([make_new_email()])
    later = make_new_email()

    with store.engine.connect() as connection:
        connection.execute(insert(EmailRow), [{
            "id": later.email_id, "to_email": later.to_email, "to_name": None,
            "subject": later.subject, "content": later.content, "html": later.html,
            "text": later.text, "sender_email": later.sender_email,
            "sender_name": later.sender_name, "status": Status.QUEUED.value,
            "attempt_count": 0, "due_at": T0, "created_at": T0, "updated_at": T0,
        }])
        connection.rollback()

    assert later.email_id not in stored_rows(store)
