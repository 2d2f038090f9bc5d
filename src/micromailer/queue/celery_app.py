"""The Celery app: JSON only, late acks, one durable queue (classic or quorum), two tasks:
``deliver`` (an email) and ``callback`` (one try of a callback delivery)."""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from micromailer.config import Settings
from micromailer.queue.callback_task import register_callback_task
from micromailer.queue.declaration import delayed_countdown, deliver_queue
from micromailer.queue.names import DELIVER_TASK, QUEUE_NAME
from micromailer.queue.sqlite_transport import broker_settings
from micromailer.retry import PUBLISH_RETRY_POLICY, STORE_UNREACHABLE, TASK_STORE_DOWN_RETRY


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``; the deliver and callback tasks are registered on it."""
    app = Celery("micromailer", set_as_current=False)
    app.conf.update(
        **broker_settings(settings.celery_broker_url),
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=QUEUE_NAME,
        task_queues=[deliver_queue(settings.queue_type)],
        task_default_delivery_mode="persistent",
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        worker_prefetch_multiplier=1,
        # On a quorum queue the prefetch is set per consumer (the default; said here because
        # quorum queues refuse a global one).
        worker_detect_quorum_queues=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.celery_broker_url),
        enable_utc=True,
    )
    _register_deliver(app, settings)
    register_callback_task(app)
    return app


def _transport_options(broker_url: str) -> dict[str, Any]:
    if broker_url.startswith(("amqp", "pyamqp")):
        return {"confirm_publish": True}
    return {}


def _register_deliver(app: Celery, settings: Settings) -> None:
    # Imported here: the API builds this app too, and only a worker needs the delivery stack.
    from micromailer.queue.runtime import WorkerRuntime

    holder: dict[str, WorkerRuntime] = {}
    lock = threading.Lock()

    def runtime() -> WorkerRuntime:
        if "runtime" not in holder:
            with lock:
                if "runtime" not in holder:
                    holder["runtime"] = WorkerRuntime.build(settings, app)
        return holder["runtime"]

    @app.task(  # type: ignore[untyped-decorator]
        name=DELIVER_TASK,
        shared=False,  # bound to this app only: each app has its own settings and runtime
        # Plain messages go straight to the delivery event loop (deliver_strategy.py).
        Strategy="micromailer.queue.deliver_strategy:loop_deliveries",
        acks_late=True,
        reject_on_worker_lost=True,
        bind=True,
        max_retries=TASK_STORE_DOWN_RETRY.max_retries,
    )
    def deliver(task: Any, email_id: str) -> str | None:
        """Celery's own path: delayed retries, and messages whose store was down, which
        come back soon (``TASK_STORE_DOWN_RETRY``) rather than wait for the sweeper."""
        try:
            status = runtime().service.deliver(email_id)
        except STORE_UNREACHABLE as exc:
            countdown = TASK_STORE_DOWN_RETRY.countdown(task.request.retries)
            raise task.retry(
                exc=exc, countdown=delayed_countdown(app.amqp.queues[QUEUE_NAME], countdown)
            ) from exc
        return status.value if status is not None else None

    app.conf.micromailer_runtime = runtime


__all__ = ["DELIVER_TASK", "QUEUE_NAME", "create_celery"]
