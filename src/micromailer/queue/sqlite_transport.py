"""kombu's SQLAlchemy transport, tuned for the embedded broker file.

Three changes, out of reach of transport options (kombu hands those to ``create_engine``):
an idle worker polls every 50 ms instead of every second; the broker's SQLite file gets WAL
and a busy timeout like the store's, so API threads and workers publish without "database is
locked"; and two processes creating the queue's row at the same moment (the API's first
publish and the worker's start) no longer stop the worker with a unique-constraint error.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError

from micromailer.store.engine import tune_sqlite

#: ``MICROMAILER_BROKER_URL`` prefix that selects this transport.
URL_PREFIX = "sqla+"
TRANSPORT_PATH = "micromailer.queue.sqlite_transport:Transport"


class Channel(kombu_sqla.Channel):
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


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = 0.05


def broker_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for ``broker_url``: ``sqla+`` URLs go through this transport."""
    if not broker_url.startswith(URL_PREFIX):
        return {"broker_url": broker_url}
    return {"broker_url": broker_url[len(URL_PREFIX):], "broker_transport": TRANSPORT_PATH}


__all__ = ["TRANSPORT_PATH", "Transport", "broker_settings"]
