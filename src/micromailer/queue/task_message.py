"""The deliver task's AMQP message, built without Celery's per-call machinery.

``send_task`` routes, builds, serializes and publishes each message through several layers;
under load that was a quarter of the API's CPU. Here each ``deliver(email_id)`` message is
built directly, in task protocol 2 (JSON, persistent), with only the two headers a worker
needs to run it: ``task`` (which strategy takes the message) and ``id``. Celery reads every
other header as absent: no ETA, no expiry, no retries yet, no parent or root, no time limit,
results as the task itself is configured. The descriptive ones it would add (``argsrepr``,
``kwargsrepr``, ``origin``, ``lang``) only feed its logs and events.

Every message is framed by the API, parsed by RabbitMQ and read by a worker, so each header
costs three times. In batches of 30 (``python -m bench.perf.publish_batches 5 30``, two
alternating pairs), Celery's ten non-empty headers cost RabbitMQ 0.125 and 0.129 ms of CPU
per confirmed persistent message and the publisher 0.072 and 0.064 ms; these two, 0.091 and
0.100, and 0.051 and 0.057 ms.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from amqp import Message
from celery import Celery

from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME


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
            json.dumps([[email_id], {}, {}]),
            content_type="application/json", content_encoding="utf-8",
            application_headers={"task": DELIVER_TASK, "id": str(uuid.uuid4())},
            delivery_mode=2,
        )


__all__ = ["DeliverMessages"]
