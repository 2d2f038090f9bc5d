"""Publishing many deliver tasks at once, with one wait for RabbitMQ's confirms of them all.

A publisher confirm for a persistent message arrives once RabbitMQ has it on disk, a few
milliseconds: waiting for each in turn caps one publisher at a few hundred messages a second.
Here a batch is published back to back on a channel in confirm mode, and the publisher waits
once until the broker has acknowledged the last of them (acks may cover several messages).
The messages are built from a template (``task_message.py``), not through ``send_task``, and
a batch goes to the socket in one write (:class:`_BatchWrites`): py-amqp writes each message
on its own, and each write is a system call here and a packet for RabbitMQ to read.
Brokers without confirms (the embedded SQL transport) get the same messages through a kombu
producer; where the channel can hold them (``together``, as the embedded transport's does),
a batch is stored in one transaction.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from amqp.method_framing import frame_writer
from celery import Celery
from kombu.messaging import Producer

from micromailer.queue.names import QUEUE_NAME
from micromailer.queue.task_message import DeliverMessages

CONFIRM_TIMEOUT = 10.0


class PublishNotConfirmedError(Exception):
    """RabbitMQ refused (nacked) a message or did not confirm it in time."""


class BatchPublisher:
    def __init__(self, app: Celery, confirm_timeout: float = CONFIRM_TIMEOUT) -> None:
        self._app = app
        self._confirm_timeout = confirm_timeout
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None
        self._writes: _BatchWrites | None = None
        self._producer: Producer | None = None
        self._published = 0
        self._acked = 0
        self._nacked = False
        self._confirms = app.conf.broker_url.startswith(("amqp", "pyamqp"))
        self._messages = DeliverMessages.for_app(app)

    def publish_many(self, email_ids: Sequence[str]) -> None:
        """Publish ``deliver(email_id)`` for each; return once the broker has them all."""
        with self._lock:
            try:
                if self._confirms:
                    self._publish_confirmed(email_ids)
                else:
                    self._publish_plain(email_ids)
            except Exception:
                self._reset()
                raise

    def _publish_plain(self, email_ids: Sequence[str]) -> None:
        if self._producer is None:
            self._producer = Producer(self._open_channel())  # type: ignore[no-untyped-call]
        together = getattr(self._channel, "together", contextlib.nullcontext)
        with together():
            for email_id in email_ids:
                self._messages.publish(self._producer, email_id)

    def _publish_confirmed(self, email_ids: Sequence[str]) -> None:
        channel, writes = self._confirm_channel()
        messages = self._messages
        with writes.together():
            for email_id in email_ids:
                channel.basic_publish(
                    messages.build(email_id), messages.exchange, messages.routing_key
                )
                self._published += 1
        last = self._published
        while self._acked < last:
            if self._nacked:
                raise PublishNotConfirmedError("RabbitMQ refused a deliver task")
            self._connection.drain_events(timeout=self._confirm_timeout)
        if self._nacked:
            raise PublishNotConfirmedError("RabbitMQ refused a deliver task")

    def _confirm_channel(self) -> tuple[Any, _BatchWrites]:
        if self._channel is None or self._writes is None:
            # Confirms are handled here, not per publish by the transport.
            channel = self._open_channel(transport_options={"confirm_publish": False})
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._writes = _BatchWrites.install(channel.connection)
            self._published = self._acked = 0
            self._nacked = False
        return self._channel, self._writes

    def _open_channel(self, **options: Any) -> Any:
        """A channel on a connection of our own, with the deliver queue declared."""
        connection = self._app.connection_for_write(**options)
        connection.ensure_connection(max_retries=2)
        channel = connection.channel()
        self._app.amqp.queues[QUEUE_NAME](channel).declare()
        self._connection, self._channel = connection, channel
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True

    def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._writes = self._producer = None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken; nothing more to do
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._reset()


class _BatchWrites:
    """A py-amqp connection's writes, held while :meth:`together` is open and then sent in
    one write; passed straight through otherwise."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._held: bytearray | None = None

    @classmethod
    def install(cls, amqp_connection: Any) -> _BatchWrites:
        """Route ``amqp_connection``'s frames through a new one (py-amqp's own frame writer,
        writing to it rather than to the socket)."""
        writes = cls(amqp_connection.transport)
        amqp_connection.frame_writer = frame_writer(amqp_connection, writes)
        return writes

    def write(self, data: bytes | memoryview) -> None:
        if self._held is None:
            self._transport.write(data)
        else:
            self._held += data  # a copy: py-amqp reuses its frame buffer

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        held = self._held = bytearray()
        try:
            yield
        finally:
            self._held = None
        if held:  # not reached if a publish raised: the batch is dropped with its connection
            self._transport.write(held)


__all__ = ["BatchPublisher", "PublishNotConfirmedError"]
