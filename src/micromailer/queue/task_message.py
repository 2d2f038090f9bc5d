"""The deliver task's AMQP message, built without Celery's per-call machinery.

``send_task`` routes, builds, serializes and publishes each message through several layers;
under load that was a quarter of the API's CPU. Messages for ``deliver(email_id)`` differ
only in the task id and the email id, so Celery builds one message (``as_task_v2``) as the
template, once, and each message is a copy with those two fields set: a worker receives
what ``send_task`` would have sent (task protocol 2, JSON, persistent), less the headers
that are empty (``eta``, ``expires``, ``group``, ``timelimit``, ``stamps``…): a worker reads a
missing header as empty, and every message is framed by the API, parsed by RabbitMQ and read by
a worker, so the empty ones cost about a tenth of RabbitMQ's CPU per message (docs/performance.md).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from amqp import Message
from celery import Celery

from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME

_TEMPLATE_ID = "template"


@dataclass(frozen=True)
class DeliverMessages:
    """Builds ``deliver(email_id)`` messages; publish them to ``exchange`` / ``routing_key``."""

    headers: dict[str, Any]
    embed: dict[str, Any]
    exchange: str
    routing_key: str

    @classmethod
    def for_app(cls, app: Celery) -> DeliverMessages:
        template = app.amqp.as_task_v2(_TEMPLATE_ID, DELIVER_TASK, args=[_TEMPLATE_ID])
        _args, _kwargs, embed = template.body
        queue = app.amqp.queues[QUEUE_NAME]
        headers = {name: value for name, value in template.headers.items()
                   if not _empty(value)}
        return cls(headers, dict(embed), queue.exchange.name, queue.routing_key)

    def build(self, email_id: str) -> Message:
        task_id = str(uuid.uuid4())
        headers = {**self.headers, "id": task_id, "root_id": task_id,
                   "argsrepr": repr([email_id])}
        body = json.dumps([[email_id], {}, self.embed])
        return Message(
            body, content_type="application/json", content_encoding="utf-8",
            application_headers=headers, delivery_mode=2, priority=0,
            correlation_id=task_id, reply_to="",
        )


def _empty(value: Any) -> bool:
    """``None``, or a list or dict of nothing but ``None`` (``timelimit``, ``stamps``)."""
    if isinstance(value, dict):
        return all(_empty(item) for item in value.values())
    if isinstance(value, list):
        return all(item is None for item in value)
    return value is None


__all__ = ["DeliverMessages"]
