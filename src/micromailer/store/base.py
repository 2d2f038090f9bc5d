"""What every part of the store shares: the engine, short transactions and the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

UtcClock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """One job's reads and writes over a shared engine; times come from ``clock``."""

    def __init__(self, engine: Engine, clock: UtcClock = utcnow) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


__all__ = ["StoreBase", "UtcClock", "utcnow"]
