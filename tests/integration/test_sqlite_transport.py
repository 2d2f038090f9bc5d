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
        original_query = channel.session.query
        raced = {"done": False}

        def query_then_race(*args: object) -> object:
            # kombu looks for the row, then inserts it; the other process inserts in between.
            result = original_query(*args)
            if not raced["done"]:
                raced["done"] = True
                with other.begin() as sql:
                    sql.execute(text("INSERT INTO kombu_queue (name) VALUES ('micromailer')"))
            return result

        monkeypatch.setattr(channel.session, "query", query_then_race)
        queue = channel._get_or_create("micromailer")

        assert raced["done"]
        assert queue.name == "micromailer"
        with other.connect() as sql:
            rows = sql.execute(text("SELECT count(*) FROM kombu_queue WHERE name = 'micromailer'"))
            assert rows.scalar() == 1
        other.dispose()
