"""Publishing ``micromailer.callback`` by name, on the deliver queue."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from micromailer.queue.declaration import delayed_countdown
from micromailer.queue.names import CALLBACK_TASK, QUEUE_NAME


class CallbackPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def publish_many(self, delivery_ids: Sequence[str]) -> None:
        """A task for each delivery, due now (publish after the outbox's rows commit)."""
        for delivery_id in delivery_ids:
            self._app.send_task(CALLBACK_TASK, args=[delivery_id], queue=QUEUE_NAME, retry=True)

    def schedule(self, delivery_id: str, delay_seconds: float) -> None:
        countdown = delayed_countdown(self._app.amqp.queues[QUEUE_NAME], delay_seconds)
        self._app.send_task(
            CALLBACK_TASK, args=[delivery_id], queue=QUEUE_NAME, countdown=countdown, retry=True
        )


__all__ = ["CallbackPublisher"]
