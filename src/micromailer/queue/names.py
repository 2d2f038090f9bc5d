"""The tasks' and the queue's names: a leaf module, so that the publishers, the message
builder and the Celery app all import them without importing one another."""

from __future__ import annotations

#: The task that delivers one email: ``deliver(email_id)``.
DELIVER_TASK = "micromailer.deliver"
#: The task that makes one try of one callback delivery: ``callback(delivery_id)``.
CALLBACK_TASK = "micromailer.callback"
#: The one durable queue the API publishes to and the workers consume.
QUEUE_NAME = "micromailer"
#: The quorum queue's exchange: a topic exchange, as Celery's native delayed delivery needs,
#: named apart from the classic queue's direct exchange (``QUEUE_NAME``), so that a broker which
#: held one can declare the other.
QUORUM_EXCHANGE = "micromailer.topic"

__all__ = ["CALLBACK_TASK", "DELIVER_TASK", "QUEUE_NAME", "QUORUM_EXCHANGE"]
