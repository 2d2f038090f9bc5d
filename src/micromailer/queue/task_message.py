"""The deliver task's AMQP message, built without Celery's per-call machinery.

Each ``deliver(email_id)`` message is built directly in task protocol 2 (JSON, persistent) with
only the two headers a worker needs, ``task`` and ``id``; Celery reads every other header as
absent. ``send_task``'s layers and headers cost the API and RabbitMQ CPU per message
(docs/performance.md); tests/unit/test_library_canaries.py checks Celery still reads it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from amqp import Message
from celery import Celery
from kombu.messaging import Producer

from micromailer.queue.names import DELIVER_TASK, QUEUE_NAME

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2


@dataclass(frozen=True)
class DeliverMessages:
    """Builds ``deliver(email_id)`` messages; publish them to ``exchange`` / ``routing_key``."""

    exchange: str
    routing_key: str

    @classmethod
    def for_app(cls, app: Celery) -> DeliverMessages:
        queue = app.amqp.queues[QUEUE_NAME]
        return cls(queue.exchange.name, queue.routing_key)

    def build(self, email_id: str) -> Message:
        """A message of its own task id: the worker's ``args`` are ``[email_id]``, with no
        keyword arguments and nothing chained."""
        return Message(
            body(email_id), content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING,
            application_headers=headers(), delivery_mode=PERSISTENT,
        )

    def publish(self, producer: Producer, email_id: str) -> None:
        """The same message through a kombu ``producer``, for brokers other than RabbitMQ."""
        producer.publish(  # type: ignore[no-untyped-call]
            body(email_id), exchange=self.exchange, routing_key=self.routing_key,
            content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING, headers=headers(),
            delivery_mode=PERSISTENT, declare=[], retry=False,
        )


def body(email_id: str) -> str:
    """Task protocol 2's body: ``[args, kwargs, embed]``."""
    return json.dumps([[email_id], {}, {}])


def headers() -> dict[str, str]:
    """The two headers a worker needs, with a new task id."""
    return {"task": DELIVER_TASK, "id": str(uuid.uuid4())}


__all__ = ["DeliverMessages"]
