"""The deliver message built here runs in a worker as the one Celery's ``send_task`` builds."""

from __future__ import annotations

import json
import uuid

import pytest
from celery import Celery
from celery.app.task import Context
from celery.worker.request import Request
from kombu.message import Message

from micromailer.config import Settings
from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME, create_celery
from micromailer.queue.task_message import DeliverMessages

#: Fields that differ from one message to the next by design.
PER_MESSAGE = {"id", "root_id", "correlation_id", "properties", "children"}
#: What Celery adds to describe a task in its logs and events; a worker runs it the same
#: without them.
DESCRIPTIVE = {"argsrepr", "kwargsrepr", "origin", "lang"}


@pytest.fixture
def app() -> Celery:
    return create_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))


def test_a_built_message_is_a_persistent_json_task_for_the_deliver_queue(app: Celery) -> None:
    messages = DeliverMessages.for_app(app)
    built = messages.build("email-42")

    headers = built.properties["application_headers"]
    assert headers.keys() == {"task", "id"}
    assert headers["task"] == DELIVER_TASK
    assert uuid.UUID(headers["id"]).version == 4
    assert json.loads(built.body) == [["email-42"], {}, {}]
    assert built.properties["delivery_mode"] == 2
    assert built.properties["content_type"] == "application/json"
    assert built.properties["content_encoding"] == "utf-8"
    assert (messages.exchange, messages.routing_key) == (QUEUE_NAME, QUEUE_NAME)


def test_every_message_has_its_own_task_id(app: Celery) -> None:
    messages = DeliverMessages.for_app(app)
    ids = {messages.build("email-1").properties["application_headers"]["id"]
           for _ in range(100)}
    assert len(ids) == 100


def empty_as_none(value: object) -> object:
    """``[None, None]`` and ``{}`` (Celery's empty time limits and stamps) as ``None``."""
    return None if value in ([None, None], {}) else value


def worker_request(app: Celery, headers: dict[str, object], body: str) -> Request:
    """The request a worker builds from a message."""
    message = Message(body=body, headers=headers, content_type="application/json",
                      content_encoding="utf-8", delivery_info={"routing_key": QUEUE_NAME})
    request = Request(message, app=app, task=app.tasks[DELIVER_TASK], hostname="worker")
    assert request.eta is None and request.expires is None
    assert tuple(request.time_limits) == (None, None)
    return request


def received(app: Celery, headers: dict[str, object], body: str) -> Context:
    """The task context a worker builds from a message (what ``self.request`` shows)."""
    return Context(worker_request(app, headers, body).request_dict)


def test_a_worker_runs_the_built_message_as_celerys_own(app: Celery) -> None:
    built = DeliverMessages.for_app(app).build("email-42")
    celerys = app.amqp.as_task_v2("task-1", DELIVER_TASK, args=["email-42"])

    ours = received(app, built.properties["application_headers"], built.body)
    theirs = received(app, celerys.headers, json.dumps(celerys.body))

    fields = [name for name in vars(Context) if not name.startswith("_")
              and not callable(getattr(Context, name))
              and name not in PER_MESSAGE | DESCRIPTIVE | {"ignore_result"}]
    assert {name: empty_as_none(getattr(ours, name)) for name in fields} == {
        name: empty_as_none(getattr(theirs, name)) for name in fields
    }
    assert ours.args == ["email-42"] and ours.kwargs == {} and ours.retries == 0
    assert ours.task == DELIVER_TASK and ours.id == built.properties["application_headers"]["id"]
    # send_task says "keep the result" unless told otherwise; this message leaves it to the
    # task, which the app configures to ignore results.
    request = worker_request(app, built.properties["application_headers"], built.body)
    assert request.ignore_result is True and app.tasks[DELIVER_TASK].ignore_result is True
