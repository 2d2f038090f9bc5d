"""The deliver task's and queue's names: a leaf module, so that the publishers, the message
builder and the Celery app all import them without importing one another."""

from __future__ import annotations

#: The task every message on the queue runs: ``deliver(email_id)``.
DELIVER_TASK = "micromailer.deliver"
#: The one durable queue the API publishes to and the workers consume.
QUEUE_NAME = "micromailer"
#: The quorum queue's exchange: a topic exchange, as Celery's native delayed delivery needs,
#: named apart from the classic queue's direct exchange (``QUEUE_NAME``), so that a broker which
#: held one can declare the other.
QUORUM_EXCHANGE = "micromailer.topic"

__all__ = ["DELIVER_TASK", "QUEUE_NAME", "QUORUM_EXCHANGE"]
