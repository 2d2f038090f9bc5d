"""The deliver queue's type on a real RabbitMQ (``MICROMAILER_QUEUE_TYPE``): classic by default,
quorum when asked, and a classic queue that must be deleted before it can come back as quorum."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from micromailer.config import QueueType, Settings
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.celery_app import QUEUE_NAME, create_celery
from micromailer.queue.publisher import DeliveryPublisher
from tests.support.backends import fresh_database_and_vhost
from tests.support.servers import unavailable

#: Polls of the deliver queue, 0.1 s apart, while a one-second delay runs out.
DELAY_POLLS = 300


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A vhost of this test's own (its URL), so that the queue it declares is new."""
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is needed to read a queue's type")
    with fresh_database_and_vhost() as (_, url):
        yield url


def _vhost(broker_url: str) -> str:
    return broker_url.rsplit("/", 1)[1]


def rabbitmqctl(*args: str) -> str:
    completed = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                               timeout=60, check=True)
    return completed.stdout


def queue_types(broker_url: str) -> dict[str, str]:
    """Each queue of the vhost, by name: its type."""
    lines = rabbitmqctl("list_queues", "-p", _vhost(broker_url), "--no-table-headers",
                        "name", "type").splitlines()
    return dict(line.split() for line in lines)


def waiting(broker_url: str) -> int:
    """The messages ready in the deliver queue, as RabbitMQ answers a passive declare (its
    listing's figures lag behind a quorum queue)."""
    with Connection(broker_url) as connection:
        ok = connection.default_channel.queue_declare(QUEUE_NAME, passive=True)
        return int(ok.message_count)


def settings(broker_url: str, queue_type: QueueType) -> Settings:
    return Settings(broker_url=broker_url, queue_type=queue_type,  # type: ignore[call-arg]
                    _env_file=None)


@pytest.mark.parametrize("queue_type", list(QueueType))
def test_the_publishers_declare_the_deliver_queue_of_the_type_asked_for(
    broker_url: str, queue_type: QueueType
) -> None:
    publisher = BatchPublisher(create_celery(settings(broker_url, queue_type)))
    try:
        publisher.publish_many(["email-1", "email-2", "email-3"])
    finally:
        publisher.close()

    assert queue_types(broker_url)[QUEUE_NAME] == queue_type.value
    assert waiting(broker_url) == 3


def test_a_countdown_on_a_quorum_queue_goes_through_rabbitmqs_delayed_delivery(
    broker_url: str,
) -> None:
    """The delay queues are the worker's to declare and bind; here done as a worker does."""
    app = create_celery(settings(broker_url, QueueType.QUORUM))
    with Connection(broker_url) as connection:
        channel = connection.default_channel
        queue = app.amqp.queues[QUEUE_NAME]
        queue(channel).declare()
        declare_native_delayed_delivery_exchanges_and_queues(connection, "quorum")
        bind_queue_to_native_delayed_delivery_exchange(connection, queue)
        # Less than a second would be refused by the delayed delivery: rounded up to one.
        DeliveryPublisher(app).schedule("email-later", 0.4)

        for _ in range(DELAY_POLLS):
            if channel.queue_declare(QUEUE_NAME, passive=True).message_count:
                break
            time.sleep(0.1)
        message = channel.basic_get(QUEUE_NAME, no_ack=True)

    assert message is not None, "the delayed task never reached the deliver queue"
    assert json.loads(message.body)[0] == ["email-later"]


def test_a_classic_queue_must_be_deleted_before_it_is_declared_quorum(broker_url: str) -> None:
    """What docs/operations.md's move from classic to quorum relies on."""
    classic = BatchPublisher(create_celery(settings(broker_url, QueueType.CLASSIC)))
    classic.publish_many(["email-1"])
    classic.close()
    quorum = BatchPublisher(create_celery(settings(broker_url, QueueType.QUORUM)))

    with pytest.raises(PreconditionFailed, match="x-queue-type"):
        quorum.publish_many(["email-2"])
    rabbitmqctl("delete_queue", "-p", _vhost(broker_url), QUEUE_NAME)
    quorum.publish_many(["email-2"])
    quorum.close()

    assert queue_types(broker_url)[QUEUE_NAME] == "quorum"
    assert waiting(broker_url) == 1


def test_a_quorum_queue_needs_rabbitmq() -> None:
    with pytest.raises(ValueError, match="MICROMAILER_QUEUE_TYPE=quorum needs RabbitMQ"):
        Settings(queue_type="quorum", _env_file=None)  # type: ignore[call-arg]
