"""Publishing ``micromailer.deliver`` by name, so the API never imports the worker's code."""

from __future__ import annotations

from celery import Celery

from micromailer.queue.declaration import delayed_countdown
from micromailer.queue.names import DELIVER_TASK, QUEUE_NAME


class DeliveryPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def publish(self, email_id: str) -> None:
        self._app.send_task(DELIVER_TASK, args=[email_id], queue=QUEUE_NAME, retry=True)

    def schedule(self, email_id: str, delay_seconds: float) -> None:
        countdown = delayed_countdown(self._app.amqp.queues[QUEUE_NAME], delay_seconds)
        self._app.send_task(
            DELIVER_TASK, args=[email_id], queue=QUEUE_NAME, countdown=countdown, retry=True
        )

    def ping(self, timeout: float = 2.0) -> None:
        """Raise if the broker cannot be reached within ``timeout`` seconds."""
        with self._app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)


__all__ = ["DeliveryPublisher"]
