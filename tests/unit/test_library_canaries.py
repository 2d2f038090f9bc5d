"""Canaries: one test per library internal the queue relies on, each failing with a sentence
that names the internal, the installed version and the module that uses it, so that an
upgrade that changes one stops here rather than in delivery. docs/dependencies.md lists them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import amqp
import kombu.transport.sqlalchemy as kombu_sqla
from amqp import spec
from amqp.method_framing import frame_writer
from celery import Celery
from celery.app.task import Task
from celery.events import EventDispatcher
from celery.worker import state as worker_state
from celery.worker import strategy as celery_strategy
from celery.worker.consumer.consumer import Consumer
from celery.worker.request import Request
from kombu import Connection
from kombu.message import Message as KombuMessage

from micromailer.queue.batch_publisher import _BatchWrites
from micromailer.queue.names import DELIVER_TASK, QUEUE_NAME
from micromailer.queue.sqlite_transport import TRANSPORT_PATH
from micromailer.queue.task_message import DeliverMessages


def changed(library: str, internal: str, module: str) -> str:
    return (f"{library}'s internal {internal} changed ({library} {version(library)}): "
            f"see src/micromailer/queue/{module}")


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


# -- task_message.py: task protocol 2 built by hand -------------------------------------------


def test_a_hand_built_deliver_message_runs_through_celerys_own_request() -> None:
    app = Celery("canary", set_as_current=False)

    @app.task(name=DELIVER_TASK, shared=False)  # type: ignore[untyped-decorator]
    def deliver(email_id: str) -> str:
        return f"delivered {email_id}"

    built = DeliverMessages.for_app(app).build("email-1")
    received = KombuMessage(
        body=built.body, headers=built.properties["application_headers"],
        content_type=built.properties["content_type"],
        content_encoding=built.properties["content_encoding"],
    )
    request = Request(received, app=app, task=deliver)
    why = changed("celery", "task protocol 2 (a message with only the `task` and `id` "
                  "headers)", "task_message.py")
    assert (request.name, request.args, request.kwargs) == (DELIVER_TASK, ["email-1"], {}), why
    assert request.eta is None and request.expires is None, why
    assert request.execute() == "delivered email-1", why


def test_the_deliver_message_has_celerys_protocol_2_body() -> None:
    app = Celery("canary", set_as_current=False)
    celerys = app.amqp.as_task_v2("id", DELIVER_TASK, args=["email-1"])
    ours = json.loads(DeliverMessages.for_app(app).build("email-1").body)
    why = changed("celery", "task protocol 2 body `[args, kwargs, embed]`", "task_message.py")
    assert [list(celerys.body[0]), celerys.body[1]] == ours[:2], why
    assert set(ours[2]) <= set(celerys.body[2]), why
    assert celerys.headers["task"] == DELIVER_TASK and "id" in celerys.headers, why


# -- deliver_strategy.py: the deliver task's consumer strategy --------------------------------


def test_a_task_strategy_is_still_called_as_the_deliver_strategy_expects() -> None:
    why = changed("celery", "task `Strategy` (`start_strategy(app, consumer)`, "
                  "`strategy.default(task, app, consumer)`)", "deliver_strategy.py")
    assert Task.Strategy == "celery.worker.strategy:default", why
    assert parameters(Task.start_strategy)[:3] == ["self", "app", "consumer"], why
    assert parameters(celery_strategy.default)[:3] == ["task", "app", "consumer"], why


def test_the_consumer_calls_a_strategy_with_ack_and_reject_promises() -> None:
    source = inspect.getsource(Consumer.create_task_handler)
    why = changed("celery", "`Consumer.create_task_handler` (calls `strategy(message, payload, "
                  "ack, reject, callbacks)`, ack being `message.ack_log_error`)",
                  "deliver_strategy.py")
    assert "message.ack_log_error" in source and "strategy(" in source, why
    assert parameters(KombuMessage.ack_log_error)[:3] == ["self", "logger", "errors"], why
    assert callable(getattr(Consumer, "call_soon", None)), why


def test_the_worker_keeps_revoked_task_ids_where_the_strategy_looks() -> None:
    why = changed("celery", "`celery.worker.state.revoked`", "deliver_strategy.py")
    worker_state.revoked.add("canary-task-id")
    try:
        assert "canary-task-id" in worker_state.revoked, why
    finally:
        worker_state.revoked.discard("canary-task-id")


def test_an_event_dispatcher_says_whether_task_events_are_on() -> None:
    dispatcher = EventDispatcher(enabled=False, groups=["worker"])
    why = changed("celery", "`EventDispatcher.enabled` and `.groups`", "deliver_strategy.py")
    assert dispatcher.enabled is False and "task" not in dispatcher.groups, why
    assert Task.send_events is True, why


# -- batch_publisher.py: py-amqp's frame writer, pointed at a buffer --------------------------


class Socketless:
    """Where the frames would have gone: the transport's ``write``."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes | memoryview) -> None:
        self.writes.append(bytes(data))


def test_py_amqp_frames_a_batch_into_one_write() -> None:
    why = changed("amqp", "`method_framing.frame_writer(connection, transport)` and "
                  "`Connection.frame_writer`", "batch_publisher.py")
    assert parameters(frame_writer)[:2] == ["connection", "transport"], why
    assert isinstance(inspect.getattr_static(amqp.Connection, "frame_writer"), property), why
    connection = amqp.Connection()
    socketless = Socketless()
    connection.transport = socketless
    writes = _BatchWrites.install(connection)
    message = DeliverMessages("", QUEUE_NAME).build("email-1")

    with writes.together():
        for _ in range(2):
            connection.frame_writer(1, 1, spec.Basic.Publish, b"\x00\x00\x00\x00\x00", message)

    assert len(socketless.writes) == 1, why
    frames = socketless.writes[0]
    assert frames[0] == 1 and frames.endswith(b"\xce"), why  # a method frame ... frame end
    assert frames.count(b'"email-1"') == 2, why


# -- sqlite_transport.py: kombu's SQL transport, subclassed -----------------------------------


def test_kombus_sql_channel_keeps_the_names_the_embedded_transport_overrides() -> None:
    why = changed("kombu", "SQL transport `Channel` (`_engine_from_config`, `_get_or_create`, "
                  "`_put`, `_get`, `session`, `message_cls`)", "sqlite_transport.py")
    channel = kombu_sqla.Channel
    assert parameters(channel._engine_from_config) == ["self"], why
    assert parameters(channel._get_or_create) == ["self", "queue"], why
    assert parameters(channel._put)[:3] == ["self", "queue", "payload"], why
    assert parameters(channel._get)[:2] == ["self", "queue"], why
    assert isinstance(inspect.getattr_static(channel, "session"), property), why
    assert kombu_sqla.Transport.Channel is channel, why


def test_kombus_message_table_has_the_columns_the_embedded_transport_reads(
    tmp_path: Path,
) -> None:
    why = changed("kombu", "SQL transport table `kombu_message` (id, queue_id, visible, "
                  "timestamp, payload)", "sqlite_transport.py")
    url = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    with Connection(url, transport=TRANSPORT_PATH) as connection:
        queue = connection.SimpleQueue("canary")
        queue.put({"email": "email-1"})
        assert queue.get(timeout=5).payload == {"email": "email-1"}, why
        channel = queue.channel
        table = channel.message_cls.__table__
        assert table.name == "kombu_message", why
        assert {"id", "queue_id", "visible", "timestamp", "payload"} <= set(table.c.keys()), why
        queue.close()
