"""Batched publishing with one wait for RabbitMQ's confirms: every task arrives, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kombu import Connection

from micromailer.config import Settings
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.celery_app import DELIVER_TASK, QUEUE_NAME, create_celery
from tests.support.backends import Backends, fresh_backends


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
