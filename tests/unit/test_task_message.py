"""The deliver message built from the template is the one Celery's ``send_task`` builds."""

from __future__ import annotations

import json

from micromailer.config import Settings
from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME, create_celery
from micromailer.queue.task_message import DeliverMessages

#: Fields that differ from one message to the next by design.
PER_MESSAGE = {"id", "root_id", "argsrepr", "origin"}


def test_a_built_message_matches_celerys_own() -> None:
    app = create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    messages = DeliverMessages.for_app(app)
    built = messages.build("email-42")
    celerys = app.amqp.as_task_v2("task-1", DELIVER_TASK, args=["email-42"])

    headers = built.properties["application_headers"]
    assert {k: v for k, v in headers.items() if k not in PER_MESSAGE} == {
        k: v for k, v in celerys.headers.items() if k not in PER_MESSAGE
    }
    assert headers["task"] == DELIVER_TASK
    assert headers["argsrepr"] == celerys.headers["argsrepr"]
    assert headers["id"] == headers["root_id"] == built.properties["correlation_id"]
    assert json.loads(built.body) == json.loads(json.dumps(celerys.body))
    assert built.properties["delivery_mode"] == 2
    assert built.properties["content_type"] == "application/json"
    assert (messages.exchange, messages.routing_key) == (QUEUE_NAME, QUEUE_NAME)


def test_every_message_has_its_own_task_id() -> None:
    app = create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    messages = DeliverMessages.for_app(app)
    ids = {messages.build("email-1").properties["correlation_id"] for _ in range(100)}
    assert len(ids) == 100
