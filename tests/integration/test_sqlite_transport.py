"""The embedded broker: two processes creating the queue's row at once both go on."""

from __future__ import annotations

from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

from micromailer.queue.sqlite_transport import TRANSPORT_PATH


def test_a_queue_created_by_another_process_meanwhile_is_used_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
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
