"""Batched publishing with one wait for RabbitMQ's confirms: every task arrives, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kombu import Connection

from micromailer.config import Settings
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME, create_celery
from micromailer.queue.task_message import DeliverMessages
from tests.support.backends import Backends, fresh_backends
from tests.support.deliver_queue import take_email_ids


@pytest.fixture
def backends() -> Iterator[Backends]:
    with fresh_backends() as fresh:
        yield fresh


def test_every_task_of_every_batch_reaches_the_durable_queue_in_order(
    backends: Backends,
) -> None:
    app = create_celery(Settings(broker_url=backends.broker_url))
    publisher = BatchPublisher(app)
    ids = [f"email-{n}" for n in range(500)]

    for start in range(0, len(ids), 100):
        publisher.publish_many(ids[start:start + 100])
    publisher.close()

    received = []
    with Connection(backends.broker_url) as connection:
        queue = connection.SimpleQueue(QUEUE_NAME)
        for _ in ids:
            message = queue.get(timeout=5)
            assert message.headers["task"] == DELIVER_TASK
            assert message.properties["delivery_mode"] == 2, "not persistent"
            received.append(json.loads(message.body)[0][0])
            message.ack()
        queue.close()
    assert received == ids


def _drain(broker_url: str) -> list[str]:
    """The email ids waiting in the deliver queue, taken off it."""
    with Connection(broker_url) as connection:
        return take_email_ids(connection)


def test_a_batch_reaches_the_socket_in_one_write(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = BatchPublisher(create_celery(Settings(broker_url=backends.broker_url)))
    publisher.publish_many(["first"])  # connects
    transport = publisher._channel.connection.transport
    writes: list[int] = []
    sendall = transport._write  # the socket's, under py-amqp's error handling

    def counted(data: bytes) -> None:
        writes.append(len(data))
        sendall(data)

    monkeypatch.setattr(transport, "_write", counted)
    publisher.publish_many([f"email-{n}" for n in range(50)])
    assert len(writes) == 1
    publisher.close()

    assert _drain(backends.broker_url) == ["first", *(f"email-{n}" for n in range(50))]


def test_a_batch_that_fails_while_built_sends_none_of_it(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = BatchPublisher(create_celery(Settings(broker_url=backends.broker_url)))
    build = DeliverMessages.build

    def fails_on_the_third(messages: DeliverMessages, email_id: str) -> object:
        if email_id == "broken-3":
            raise ValueError("cannot build")
        return build(messages, email_id)

    monkeypatch.setattr(DeliverMessages, "build", fails_on_the_third)
    with pytest.raises(ValueError, match="cannot build"):
        publisher.publish_many([f"broken-{n}" for n in range(5)])
    monkeypatch.undo()
    publisher.publish_many(["after"])  # on a fresh connection
    publisher.close()

    assert _drain(backends.broker_url) == ["after"]
