"""The deliver queue as RabbitMQ declares it: classic, or quorum wherever RabbitMQ is a cluster.

A quorum queue carries ``x-queue-type: quorum``; seeing it, Celery sets the worker's prefetch
per consumer (quorum queues refuse a global one) and sends countdown tasks through RabbitMQ's
native delayed delivery, which routes by topic and counts whole seconds.
"""

from __future__ import annotations

import math

from kombu.entity import Exchange, Queue

from micromailer.config import QueueType
from micromailer.queue.names import QUEUE_NAME, QUORUM_EXCHANGE


def deliver_queue(queue_type: QueueType) -> Queue:
    """The durable deliver queue of ``queue_type``, bound to its exchange."""
    if queue_type is QueueType.QUORUM:
        exchange = Exchange(QUORUM_EXCHANGE, type="topic", durable=True)  # type: ignore[no-untyped-call]
        return Queue(  # type: ignore[no-untyped-call]
            QUEUE_NAME, exchange, routing_key=QUEUE_NAME, durable=True,
            queue_arguments={"x-queue-type": QueueType.QUORUM.value},
        )
    return Queue(QUEUE_NAME, durable=True)  # type: ignore[no-untyped-call]


def is_quorum(queue: Queue) -> bool:
    arguments = getattr(queue, "queue_arguments", None) or {}  # set by kombu's attrs
    return bool(arguments.get("x-queue-type") == QueueType.QUORUM.value)


def delayed_countdown(queue: Queue, seconds: float) -> float:
    """The countdown to publish a delayed task to ``queue`` with: on a quorum queue, whole
    seconds rounded up, since native delayed delivery refuses a fraction below one."""
    if is_quorum(queue) and seconds > 0:
        return float(math.ceil(seconds))
    return seconds


__all__ = ["delayed_countdown", "deliver_queue", "is_quorum"]
