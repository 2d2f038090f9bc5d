"""The embedded broker: what it keeps on disk, batches in one transaction, and races."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

from micromailer.config import Settings
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.celery_app import QUEUE_NAME, create_celery
from micromailer.queue.sqlite_transport import TRANSPORT_PATH, URL_PREFIX
from tests.support.deliver_queue import take_email_ids


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'broker.sqlite3'}"


def _rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as sql:
        count = sql.execute(text("SELECT count(*) FROM kombu_message")).scalar()
    engine.dispose()
    return int(count or 0)


def _take_all(url: str) -> list[str]:
    """The email ids waiting in the deliver queue, taken off it as a worker takes them."""
    with Connection(url, transport=TRANSPORT_PATH) as connection:
        return take_email_ids(connection, timeout=0.5)


def test_batches_arrive_in_order_and_as_the_worker_reads_them(tmp_path: Path) -> None:
    url = _url(tmp_path)
    publisher = BatchPublisher(create_celery(Settings(broker_url=URL_PREFIX + url)))
    ids = [f"email-{n}" for n in range(300)]
    for start in range(0, len(ids), 100):
        publisher.publish_many(ids[start:start + 100])
    publisher.close()

    assert _take_all(url) == ids


def test_a_message_taken_is_deleted_and_kombus_leftovers_with_it(tmp_path: Path) -> None:
    url = _url(tmp_path)
    publisher = BatchPublisher(create_celery(Settings(broker_url=URL_PREFIX + url)))
    publisher.publish_many(["kept-by-kombu", "waiting"])
    publisher.close()
    # kombu's own transport takes a message by hiding it, and keeps the row for ever.
    engine = create_engine(url)
    with engine.begin() as sql:
        sql.execute(text("UPDATE kombu_message SET visible = 0 WHERE id = "
                         "(SELECT min(id) FROM kombu_message)"))
    engine.dispose()
    assert _rows(url) == 2

    assert _take_all(url) == ["waiting"]
    assert _rows(url) == 0


def test_a_batch_is_stored_at_its_end_and_not_at_all_if_it_fails(tmp_path: Path) -> None:
    url = _url(tmp_path)
    with Connection(url, transport=TRANSPORT_PATH) as connection:
        channel = connection.default_channel
        queue = connection.SimpleQueue(QUEUE_NAME)
        with channel.together():
            queue.put({"n": 1})
            queue.put({"n": 2})
            assert _rows(url) == 0, "stored before the batch ended"
        assert _rows(url) == 2

        with pytest.raises(RuntimeError), channel.together():
            queue.put({"n": 3})
            raise RuntimeError("the batch breaks")
        queue.put({"n": 4})  # outside a batch: stored at once
        assert _rows(url) == 3
        assert [json.loads(queue.get(timeout=1).body)["n"] for _ in range(3)] == [1, 2, 4]
        queue.close()


def test_a_queue_created_by_another_process_meanwhile_is_used_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(tmp_path)
    with Connection(url, transport=TRANSPORT_PATH) as connection:
        channel = connection.default_channel
        channel._get_or_create("warm-up")  # creates the tables
        other = create_engine(url)
        original_add = channel.session.add
        raced = {"done": False}

        def race_then_add(instance: object) -> None:
            # kombu looked for the row and found none; the other process inserts it now.
            if not raced["done"]:
                raced["done"] = True
                with other.begin() as sql:
                    sql.execute(text("INSERT INTO kombu_queue (name) VALUES ('micromailer')"))
            original_add(instance)

        monkeypatch.setattr(channel.session, "add", race_then_add)
        queue = channel._get_or_create("micromailer")

        assert raced["done"]
        assert queue.name == "micromailer"
        with other.connect() as sql:
            rows = sql.execute(text("SELECT count(*) FROM kombu_queue WHERE name = 'micromailer'"))
            assert rows.scalar() == 1
        other.dispose()
