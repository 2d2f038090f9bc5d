"""Engines: one function builds the store's engine from settings, SQLite tuned for WAL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

#: Milliseconds a SQLite connection waits for a lock before it gives up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Seconds to wait for a server database to accept a connection.
CONNECT_TIMEOUT_S = 3


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    # A thread holds a connection only for one short transaction (never during a provider
    # call), so a small pool serves many threads; a server's connection limit is shared by
    # every process of a deployment.
    """An engine for ``url``.

    SQLite gets WAL, ``synchronous=FULL`` (a commit survives a power cut, which is what a 202
    promises), a busy timeout and foreign keys.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping (a round trip per checkout): a connection that a database restart
        # broke fails its statement once, which invalidates the whole pool, and the caller's
        # retry (the task's, or the client's after a 503) gets fresh connections.
        return create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size // 2,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    event.listen(engine, "connect", tune_sqlite)
    return engine


def tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


__all__ = ["make_engine", "tune_sqlite"]
