"""The deliver queue's declaration for each ``MICROMAILER_QUEUE_TYPE``."""

from __future__ import annotations

import pytest

from micromailer.config import QueueType, Settings
from micromailer.queue.celery_app import QUEUE_NAME, create_celery
from micromailer.queue.declaration import delayed_countdown, deliver_queue, is_quorum
from micromailer.queue.names import QUORUM_EXCHANGE

BROKER = "amqp://guest:guest@127.0.0.1:5672//"


def test_the_queue_type_is_classic_unless_asked() -> None:
    settings = Settings(broker_url=BROKER, _env_file=None)  # type: ignore[call-arg]
    assert settings.queue_type is QueueType.CLASSIC


def test_a_classic_queue_keeps_todays_direct_exchange_and_no_arguments() -> None:
    app = create_celery(Settings(broker_url=BROKER, _env_file=None))  # type: ignore[call-arg]
    queue = app.amqp.queues[QUEUE_NAME]
    assert (queue.name, queue.exchange.name, queue.exchange.type) == (QUEUE_NAME, QUEUE_NAME,
                                                                      "direct")
    assert not queue.queue_arguments
    assert queue.durable and not is_quorum(queue)


def test_a_quorum_queue_is_declared_so_and_routed_through_a_topic_exchange() -> None:
    queue = deliver_queue(QueueType.QUORUM)
    assert queue.queue_arguments == {"x-queue-type": "quorum"}
    assert (queue.exchange.name, queue.exchange.type) == (QUORUM_EXCHANGE, "topic")
    assert queue.routing_key == QUEUE_NAME
    assert queue.durable and is_quorum(queue)


def test_the_celery_app_declares_the_queue_of_its_settings() -> None:
    settings = Settings(broker_url=BROKER, queue_type="quorum", _env_file=None)  # type: ignore[call-arg]
    app = create_celery(settings)
    assert is_quorum(app.amqp.queues[QUEUE_NAME])
    assert app.conf.worker_detect_quorum_queues


@pytest.mark.parametrize(("seconds", "quorum", "classic"),
                         [(0.0, 0.0, 0.0), (0.4, 1.0, 0.4), (8.2, 9.0, 8.2), (10.0, 10.0, 10.0)])
def test_a_delay_on_a_quorum_queue_is_whole_seconds_rounded_up(
    seconds: float, quorum: float, classic: float
) -> None:
    assert delayed_countdown(deliver_queue(QueueType.QUORUM), seconds) == quorum
    assert delayed_countdown(deliver_queue(QueueType.CLASSIC), seconds) == classic
