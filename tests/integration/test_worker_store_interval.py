"""The worker spaces its commits on SQLite, whose one writer the API waits for, and only there."""

from __future__ import annotations

from pathlib import Path

from micromailer.queue.runtime import SQLITE_STORE_INTERVAL, store_interval
from micromailer.store.engine import make_engine
from micromailer.store.repository import EmailStore
from tests.support.backends import fresh_backends


def test_on_sqlite_the_workers_commits_are_spaced(tmp_path: Path) -> None:
    store = EmailStore(make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}"))
    assert store_interval(store) == SQLITE_STORE_INTERVAL > 0
    store.engine.dispose()


def test_on_postgresql_they_are_not() -> None:
    with fresh_backends() as backends:
        store = EmailStore(make_engine(backends.database_url))
        assert store_interval(store) == 0.0
        store.engine.dispose()
