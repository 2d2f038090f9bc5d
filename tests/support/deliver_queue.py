"""Reading the deliver queue in tests, as a worker reads it."""

from __future__ import annotations

from kombu import Connection

from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME
from micromailer.queue.deliver_strategy import plain_email_id


def take_email_ids(connection: Connection, timeout: float = 1.0) -> list[str]:
    """The email ids of the deliver messages waiting, taken off the queue in order. Each must
    be a plain ``deliver(email_id)`` message, which a worker runs on its fast path."""
    ids = []
    queue = connection.SimpleQueue(QUEUE_NAME)
    while True:
        try:
            message = queue.get(timeout=timeout)
        except queue.Empty:
            break
        assert message.headers["task"] == DELIVER_TASK
        email_id = plain_email_id(message)
        assert email_id is not None, "a worker would not take it on its fast path"
        ids.append(email_id)
        message.ack()
    queue.close()
    return ids
