"""How a worker takes in ``deliver`` messages: straight onto the delivery event loop.

:func:`loop_deliveries` is the deliver task's Celery *strategy*: a plain ``deliver(email_id)``
message goes to :meth:`DeliveryService.submit` and is acknowledged, through Celery's own ack,
once its outcome is committed; Celery's per-message machinery cost more CPU than the delivery.
Anything not plain (an ETA, an expiry, a revoked message, a store-down retry, any message while
task events are on) takes Celery's own path unchanged. The Celery internals used here are
bounded in pyproject.toml and watched by tests/unit/test_library_canaries.py
(docs/dependencies.md).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Container
from functools import partial
from typing import Any, Protocol

from celery.worker.state import revoked as celery_revoked
from celery.worker.strategy import default as celery_default

from micromailer.domain.status import Status
from micromailer.retry import STORE_UNREACHABLE

log = logging.getLogger(__name__)

#: Celery's ``ack`` promise: called with a logger and the connection errors.
Settle = Callable[..., Any]
#: What the consumer calls for each message (``message, body, ack, reject, callbacks``).
MessageHandler = Callable[..., Any]


class SubmitDelivery(Protocol):
    def __call__(self, email_id: str) -> concurrent.futures.Future[Status | None]: ...


class LoopDeliveries:
    """Routes each deliver message: plain ones to the loop, the rest to Celery's path."""

    def __init__(
        self,
        submit: SubmitDelivery,
        celery_path: MessageHandler,
        call_soon: Callable[[Callable[[], Any]], Any],
        connection_errors: tuple[type[BaseException], ...],
        revoked: Container[str] = frozenset(),
        task_events: Callable[[], bool] = lambda: False,
    ) -> None:
        self._submit = submit
        self._celery_path = celery_path
        self._call_soon = call_soon
        self._connection_errors = connection_errors
        self._revoked = revoked
        self._task_events = task_events
        self._in_flight: set[concurrent.futures.Future[Status | None]] = set()
        self._lock = threading.Lock()

    def __call__(
        self, message: Any, body: Any, ack: Settle, reject: Settle, callbacks: Any,
        **options: Any,
    ) -> Any:
        email_id = plain_email_id(message)
        if email_id is None or self._task_events() or message.headers["id"] in self._revoked:
            return self._celery_path(message, body, ack, reject, callbacks, **options)
        future = self._submit(email_id)
        with self._lock:
            self._in_flight.add(future)
        retry = partial(self._celery_path, message, body, ack, reject, callbacks, **options)
        future.add_done_callback(partial(self._settled, email_id, ack, retry))
        return None

    def _settled(
        self, email_id: str, ack: Settle, retry: Callable[[], Any],
        future: concurrent.futures.Future[Status | None],
    ) -> None:
        with self._lock:
            self._in_flight.discard(future)
        error = future.exception()
        if isinstance(error, STORE_UNREACHABLE):  # retried through Celery, not acknowledged
            log.warning("store unreachable while delivering %s; retrying through Celery",
                        email_id, extra={"email_id": email_id})
            self._call_soon(retry)
            return
        if error is not None:  # the email stays in the store; the sweeper republishes it
            log.error("delivering %s failed: %r", email_id, error,
                      extra={"email_id": email_id})
        ack(log, self._connection_errors)

    def in_flight(self) -> int:
        """Emails taken in and not yet acknowledged."""
        with self._lock:
            return len(self._in_flight)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the emails in flight; whether all finished."""
        with self._lock:
            pending = set(self._in_flight)
        _, not_done = concurrent.futures.wait(pending, timeout)
        return not not_done


def loop_deliveries(task: Any, app: Any, consumer: Any, **options: Any) -> LoopDeliveries:
    """The deliver task's ``Strategy``: Celery calls it once per worker consumer. The
    instance is kept on ``app.conf.micromailer_deliveries`` for the worker's shutdown."""
    deliveries = LoopDeliveries(
        submit=app.conf.micromailer_runtime().service.submit,
        celery_path=celery_default(task, app, consumer, **options),
        call_soon=consumer.call_soon,
        connection_errors=tuple(consumer.connection_errors),
        revoked=celery_revoked,
        task_events=partial(task_events_on, task, consumer),
    )
    app.conf.micromailer_deliveries = deliveries
    return deliveries


def task_events_on(task: Any, consumer: Any) -> bool:
    """Whether Celery would send ``task``'s events now; read per message, since Flower's
    ``enable_events`` turns them on while the worker runs."""
    eventer = consumer.event_dispatcher
    return bool(
        task.send_events and eventer is not None and eventer.enabled
        and (not eventer.groups or "task" in eventer.groups)
    )


def plain_email_id(message: Any) -> str | None:
    """The email id of a plain task-protocol-2 ``deliver(email_id)`` message, else ``None``."""
    headers = message.headers
    if not isinstance(headers, dict) or "task" not in headers:
        return None  # task protocol 1
    if headers.get("eta") or headers.get("expires") or headers.get("retries"):
        return None
    try:
        args, kwargs, embed = message.decode()
    except Exception:  # Celery's path reports an undecodable message
        return None
    chained = any((embed or {}).get(key) for key in ("callbacks", "errbacks", "chain", "chord"))
    if kwargs or chained:
        return None
    if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], str)):
        return None
    return args[0]


__all__ = ["LoopDeliveries", "loop_deliveries", "plain_email_id", "task_events_on"]
