"""The ``micromailer.callback`` task: one try of one callback delivery, in a worker."""

from __future__ import annotations

from typing import Any

from celery import Celery

from micromailer.queue.declaration import delayed_countdown
from micromailer.queue.names import CALLBACK_TASK, QUEUE_NAME
from micromailer.retry import STORE_UNREACHABLE, TASK_STORE_DOWN_RETRY


def register_callback_task(app: Celery) -> None:
    """Register the task on ``app``; it runs on the worker's runtime
    (``app.conf.micromailer_runtime``, set by ``create_celery``)."""

    @app.task(  # type: ignore[untyped-decorator]
        name=CALLBACK_TASK,
        shared=False,
        acks_late=True,
        reject_on_worker_lost=True,
        bind=True,
        max_retries=TASK_STORE_DOWN_RETRY.max_retries,
    )
    def callback(task: Any, delivery_id: str) -> str | None:
        """Try the delivery; a store that is down sends the task back soon."""
        try:
            status: str | None = app.conf.micromailer_runtime().callbacks.deliver(delivery_id)
        except STORE_UNREACHABLE as exc:
            countdown = TASK_STORE_DOWN_RETRY.countdown(task.request.retries)
            raise task.retry(
                exc=exc, countdown=delayed_countdown(app.amqp.queues[QUEUE_NAME], countdown)
            ) from exc
        return status


__all__ = ["register_callback_task"]
