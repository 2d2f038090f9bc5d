"""The worker's deliver strategy: which messages go to the delivery loop, and when each is
acknowledged. Messages are real kombu messages built by Celery's own task-message code."""

from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Callable, Container
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.events import EventDispatcher
from kombu.message import Message
from sqlalchemy.exc import OperationalError

from micromailer.domain.status import Status
from micromailer.queue.celery_app import DELIVER_TASK
from micromailer.queue.deliver_strategy import LoopDeliveries, plain_email_id, task_events_on
from micromailer.queue.task_message import DeliverMessages


@pytest.fixture(scope="module")
def app() -> Celery:
    return Celery("strategy-test", set_as_current=False)


def kombu_message(app: Celery, *args: Any, **options: Any) -> Message:
    """The message ``send_task(DELIVER_TASK, args, **options)`` would publish, as a worker
    receives it."""
    task = app.amqp.as_task_v2("task-1", DELIVER_TASK, args=list(args), **options)
    return Message(
        body=json.dumps(task.body), headers=task.headers,
        content_type="application/json", content_encoding="utf-8",
    )


def test_a_published_deliver_message_is_plain(app: Celery) -> None:
    built = DeliverMessages.for_app(app).build("email-1")
    received = Message(body=built.body, headers=built.properties["application_headers"],
                       content_type="application/json", content_encoding="utf-8")
    assert plain_email_id(received) == "email-1"


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (("email-1",), {"eta": datetime.now(UTC) + timedelta(seconds=30)}),  # a delayed retry
        (("email-1",), {"countdown": 10}),
        (("email-1",), {"expires": 60}),
        (("email-1",), {"retries": 2}),
        (("email-1",), {"kwargs": {"force": True}}),
        (("email-1",), {"callbacks": [{"task": "other", "args": [], "kwargs": {}}]}),
        (("email-1", "email-2"), {}),
        ((42,), {}),
        ((), {}),
    ],
    ids=["eta", "countdown", "expires", "retried", "kwargs", "chained", "two-args",
         "not-a-string", "no-args"],
)
def test_anything_but_a_plain_deliver_message_takes_celerys_path(
    app: Celery, args: tuple[Any, ...], options: dict[str, Any]
) -> None:
    assert plain_email_id(kombu_message(app, *args, **options)) is None


def test_a_task_protocol_1_message_takes_celerys_path() -> None:
    body = {"task": DELIVER_TASK, "id": "t", "args": ["email-1"], "kwargs": {}}
    message = Message(body=json.dumps(body), headers={}, content_type="application/json",
                      content_encoding="utf-8")
    assert plain_email_id(message) is None


class Recorder:
    """Stands in for Celery's consumer around the strategy: what it was asked to do."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.futures: list[concurrent.futures.Future[Status | None]] = []
        self.acks: list[tuple[Any, ...]] = []
        self.celery_path: list[Any] = []
        self.soon: list[Callable[[], Any]] = []

    def submit(self, email_id: str) -> concurrent.futures.Future[Status | None]:
        self.submitted.append(email_id)
        future: concurrent.futures.Future[Status | None] = concurrent.futures.Future()
        self.futures.append(future)
        return future

    def ack(self, *args: Any) -> None:
        self.acks.append(args)

    def deliveries(
        self, revoked: Container[str] = frozenset(), task_events: bool = False
    ) -> LoopDeliveries:
        return LoopDeliveries(
            submit=self.submit,
            celery_path=lambda message, *_, **__: self.celery_path.append(message),
            call_soon=self.soon.append,
            connection_errors=(ConnectionError,),
            revoked=revoked,
            task_events=lambda: task_events,
        )


def test_a_plain_message_is_acknowledged_only_once_its_outcome_is_stored(app: Celery) -> None:
    recorder = Recorder()
    deliveries = recorder.deliveries()
    deliveries(kombu_message(app, "email-1"), None, recorder.ack, recorder.ack, None)

    assert recorder.submitted == ["email-1"]
    assert recorder.acks == [] and deliveries.in_flight() == 1
    recorder.futures[0].set_result(Status.SENT)
    assert len(recorder.acks) == 1 and recorder.acks[0][1] == (ConnectionError,)
    assert deliveries.in_flight() == 0
    assert recorder.celery_path == []


def test_an_email_that_was_not_ours_is_acknowledged(app: Celery) -> None:
    recorder = Recorder()
    recorder.deliveries()(kombu_message(app, "email-1"), None, recorder.ack, recorder.ack, None)
    recorder.futures[0].set_result(None)
    assert len(recorder.acks) == 1


def test_a_store_outage_hands_the_message_to_celerys_retrying_path_unacknowledged(
    app: Celery,
) -> None:
    recorder = Recorder()
    message = kombu_message(app, "email-1")
    recorder.deliveries()(message, None, recorder.ack, recorder.ack, None)
    recorder.futures[0].set_exception(OperationalError("SELECT", {}, Exception("down")))

    assert recorder.acks == []
    assert len(recorder.soon) == 1 and recorder.celery_path == []
    recorder.soon[0]()  # the consumer runs it on its own thread
    assert recorder.celery_path == [message]


def test_an_unexpected_error_is_logged_and_acknowledged(
    app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    recorder.deliveries()(kombu_message(app, "email-1"), None, recorder.ack, recorder.ack, None)
    with caplog.at_level(logging.ERROR):
        recorder.futures[0].set_exception(RuntimeError("boom"))
    assert len(recorder.acks) == 1
    assert "email-1" in caplog.text and "boom" in caplog.text


def test_a_delayed_retry_goes_to_celerys_path_at_once(app: Celery) -> None:
    recorder = Recorder()
    message = kombu_message(app, "email-1", countdown=10)
    recorder.deliveries()(message, None, recorder.ack, recorder.ack, None)
    assert recorder.celery_path == [message] and recorder.submitted == []


def test_drain_waits_for_the_emails_in_flight(app: Celery) -> None:
    recorder = Recorder()
    deliveries = recorder.deliveries()
    for email_id in ("email-1", "email-2"):
        deliveries(kombu_message(app, email_id), None, recorder.ack, recorder.ack, None)

    recorder.futures[0].set_result(Status.SENT)
    assert deliveries.drain(0.05) is False
    recorder.futures[1].set_result(Status.FAILED)
    assert deliveries.drain(0.05) is True
    assert len(recorder.acks) == 2


def test_a_revoked_message_goes_to_celerys_path_which_drops_it(app: Celery) -> None:
    recorder = Recorder()
    message = kombu_message(app, "email-1")
    recorder.deliveries(revoked={message.headers["id"]})(
        message, None, recorder.ack, recorder.ack, None
    )
    assert recorder.celery_path == [message] and recorder.submitted == []


def test_while_task_events_are_on_every_message_goes_to_celerys_path(app: Celery) -> None:
    recorder = Recorder()
    message = kombu_message(app, "email-1")
    recorder.deliveries(task_events=True)(message, None, recorder.ack, recorder.ack, None)
    assert recorder.celery_path == [message] and recorder.submitted == []


@pytest.mark.parametrize(("enabled", "groups", "on"), [
    (True, ["worker"], False),  # a worker without -E: heartbeats only
    (True, None, True),  # -E
    (True, ["worker", "task"], True),  # after Flower's enable_events
    (False, None, False),
])
def test_task_events_are_on_as_celerys_dispatcher_says(
    app: Celery, enabled: bool, groups: list[str] | None, on: bool
) -> None:
    dispatcher = EventDispatcher(enabled=False, groups=groups)
    dispatcher.enabled = enabled  # as the worker's, without a broker connection
    consumer = SimpleNamespace(event_dispatcher=dispatcher)
    assert task_events_on(SimpleNamespace(send_events=True), consumer) is on
