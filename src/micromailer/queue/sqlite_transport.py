"""kombu's SQLAlchemy transport, tuned for the embedded broker file.

What transport options cannot reach: a shorter idle poll, WAL and a busy timeout on the
broker's SQLite file, a race-free creation of the queue's row, a taken message deleted in the
statement that takes it (kombu keeps it for ever), a batch published in one transaction, and
the queue's id looked up once per channel. It subclasses kombu internals, bounded in
pyproject.toml and watched by tests/unit/test_library_canaries.py (docs/dependencies.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError

from micromailer.store.engine import tune_sqlite

#: ``MICROMAILER_BROKER_URL`` prefix that selects this transport.
URL_PREFIX = "sqla+"
TRANSPORT_PATH = "micromailer.queue.sqlite_transport:Transport"

#: The oldest visible message of a queue, deleted as it is read (kombu's order: time, then id).
_TAKE = text(
    "DELETE FROM kombu_message WHERE id = ("
    " SELECT id FROM kombu_message WHERE queue_id = :queue_id AND visible"
    " ORDER BY timestamp, id LIMIT 1"
    ") RETURNING payload"
)
#: What kombu left behind: messages already taken, kept as invisible rows.
_FORGET_TAKEN = text("DELETE FROM kombu_message WHERE queue_id = :queue_id AND NOT visible")


class Channel(kombu_sqla.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._queue_ids: dict[str, int] = {}
        self._held: list[dict[str, Any]] | None = None

    def _engine_from_config(self) -> Engine:
        engine: Engine = super()._engine_from_config()  # type: ignore[no-untyped-call]
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", tune_sqlite)
        return engine

    def _get_or_create(self, queue: str) -> Any:
        try:
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]
        except IntegrityError:  # another process created it between kombu's check and insert
            self.session.rollback()
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]

    def _queue_id(self, queue: str) -> int:
        """The id of ``queue``'s row, created if need be; looked up once per channel."""
        queue_id = self._queue_ids.get(queue)
        if queue_id is None:
            queue_id = int(self._get_or_create(queue).id)
            self._commit(_FORGET_TAKEN, {"queue_id": queue_id})
            self._queue_ids[queue] = queue_id
        return queue_id

    # kombu's two bases name the second parameter differently (message, payload).
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        text_payload = dumps(payload)  # type: ignore[no-untyped-call]
        row = {"queue_id": self._queue_id(queue), "payload": text_payload}
        if self._held is not None:
            self._held.append(row)
        else:
            self._commit(insert(self.message_cls.__table__), [row])

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Hold the messages published inside and store them in one transaction at the end;
        none of them is stored if the block raises."""
        held = self._held = []
        try:
            yield
        finally:
            self._held = None
        if held:
            self._commit(insert(self.message_cls.__table__), held)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        if self.session.bind.dialect.name != "sqlite":
            return super()._get(queue)  # type: ignore[no-untyped-call]
        queue_id = self._queue_id(queue)
        self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            payload = self.session.execute(_TAKE, {"queue_id": queue_id}).scalar()
        finally:
            self.session.commit()
        if payload is None:
            raise Empty()
        return loads(bytes_to_str(payload))  # type: ignore[no-untyped-call]

    def _commit(self, statement: Any, parameters: Any) -> None:
        """Run ``statement`` and commit; on a database error roll back and raise, so that a
        publish fails (and can be retried) rather than report a message it did not store."""
        try:
            self.session.execute(statement, parameters)
            self.session.commit()
        except OperationalError:
            self.session.rollback()
            raise


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = 0.05


def broker_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for ``broker_url``: ``sqla+`` URLs go through this transport."""
    if not broker_url.startswith(URL_PREFIX):
        return {"broker_url": broker_url}
    return {"broker_url": broker_url[len(URL_PREFIX):], "broker_transport": TRANSPORT_PATH}


__all__ = ["TRANSPORT_PATH", "Transport", "broker_settings"]
