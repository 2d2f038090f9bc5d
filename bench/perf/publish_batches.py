"""``python -m bench.perf.publish_batches [SIZES…]``: RabbitMQ's CPU per deliver message by
the size of the batches the API publishes.

Publishes real deliver messages through :class:`~micromailer.queue.batch_publisher.BatchPublisher`
(persistent, publisher confirms, one wait per batch) into a scratch vhost, and reads RabbitMQ's
CPU time (``beam.smp``, from ``/proc``) and the publisher's own before and after. The API's
publisher sends at most one batch per
``PUBLISH_INTERVAL``; this shows what that buys.
"""

from __future__ import annotations

import argparse
import time
import uuid

from tests.support.backends import fresh_backends

from bench.perf.profile import cpu_by_program
from micromailer.config import Settings
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.celery_app import create_celery


def rabbitmq_cpu() -> float:
    return cpu_by_program({})["beam.smp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1, 5, 15, 30, 100])
    parser.add_argument("--messages", type=int, default=15_000)
    args = parser.parse_args()
    with fresh_backends() as backends:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, broker_url=backends.broker_url
        )
        publisher = BatchPublisher(create_celery(settings))
        print(f"{'batch':>6} {'messages/s':>11} {'RabbitMQ ms/msg':>16} {'publisher ms/msg':>17}")
        for size in args.sizes:
            count = args.messages - args.messages % size
            ids = [str(uuid.uuid4()) for _ in range(count)]
            publisher.publish_many(ids[:size])  # connection and channel up
            broker, own, wall = rabbitmq_cpu(), time.process_time(), time.perf_counter()
            for start in range(0, count, size):
                publisher.publish_many(ids[start:start + size])
            elapsed = time.perf_counter() - wall
            print(f"{size:>6} {count / elapsed:>11.0f} "
                  f"{1000 * (rabbitmq_cpu() - broker) / count:>16.3f} "
                  f"{1000 * (time.process_time() - own) / count:>17.3f}")


if __name__ == "__main__":
    main()
