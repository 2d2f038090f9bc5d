"""The worker spaces its commits on SQLite, whose one writer the API waits for, and only there."""

from __future__ import annotations

from pathlib import Path

from micromailer.queue.runtime import SQLITE_STORE_INTERVAL, store_interval
from micromailer.store.engine import make_engine
from tests.support.backends import fresh_backends


def test_on_sqlite_the_workers_commits_are_spaced(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    assert store_interval(engine) == SQLITE_STORE_INTERVAL > 0
    engine.dispose()


def test_on_postgresql_they_are_not() -> None:
    with fresh_backends() as backends:
        engine = make_engine(backends.database_url)
        assert store_interval(engine) == 0.0
        engine.dispose()
