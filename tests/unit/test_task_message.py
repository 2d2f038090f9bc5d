"""The deliver message built from the template is the one Celery's ``send_task`` builds."""

from __future__ import annotations

import json

from celery import Celery
from celery.app.task import Context
from celery.worker.request import Request
from kombu.message import Message

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
        k: v for k, v in celerys.headers.items()
        if k not in PER_MESSAGE and v not in (None, [None, None], {})
    }
    assert {"lang", "retries", "ignore_result", "replaced_task_nesting"} <= headers.keys()
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


def empty_as_none(value: object) -> object:
    """``[None, None]`` and ``{}`` (Celery's empty time limits and stamps) as ``None``."""
    return None if value in ([None, None], {}) else value


def received(app: Celery, headers: dict[str, object], body: str) -> Context:
    """The task context a worker builds from a message (what ``self.request`` shows)."""
    message = Message(body=body, headers=headers, content_type="application/json",
                      content_encoding="utf-8", delivery_info={"routing_key": QUEUE_NAME})
    request = Request(message, app=app, task=app.tasks[DELIVER_TASK], hostname="worker")
    assert request.eta is None and request.expires is None
    assert tuple(request.time_limits) == (None, None)
    return Context(request.request_dict)


def test_a_worker_reads_the_built_message_as_celerys_own() -> None:
    app = create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    built = DeliverMessages.for_app(app).build("email-42")
    celerys = app.amqp.as_task_v2("task-1", DELIVER_TASK, args=["email-42"])

    ours = received(app, built.properties["application_headers"], built.body)
    theirs = received(app, celerys.headers, json.dumps(celerys.body))

    fields = [name for name in vars(Context) if not name.startswith("_")
              and not callable(getattr(Context, name)) and name not in PER_MESSAGE
              and name not in {"properties", "correlation_id", "children"}]
    assert {name: empty_as_none(getattr(ours, name)) for name in fields} == {
        name: empty_as_none(getattr(theirs, name)) for name in fields
    }
    assert ours.args == ["email-42"] and ours.retries == 0
