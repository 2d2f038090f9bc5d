"""Chaos 3: Redis (the shared health board) stopped under load: delivery goes on."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos.conftest import start_redis, stop_redis
from tests.support.backends import Backends
from tests.support.cluster import Cluster
from tests.support.load import LoadResult, in_background, post_many

EMAILS = 600
RATE = 40.0


def test_delivery_goes_on_while_the_shared_health_board_is_down(
    tmp_path: Path, backends: Backends
) -> None:
    cluster = Cluster(tmp_path, backends, apis=1, workers=2, concurrency=8).start()
    load = LoadResult()
    try:
        loader = in_background(post_many, [cluster.clients[0].url], EMAILS, threads=4,
                               rate=RATE, result=load)
        time.sleep(3)
        stop_redis()
        try:
            down_from = datetime.now(UTC)
            time.sleep(6)
            down_until = datetime.now(UTC)
        finally:
            start_redis()
        loader.join(timeout=120)
        final = cluster.clients[0].wait_final(load.accepted, timeout=120)
        worker_logs = "".join(worker.log_path.read_text() for worker in cluster.workers)
    finally:
        cluster.stop()

    assert set(load.statuses) == {202}, load.bodies
    assert Counter(body["status"] for body in final.values()) == {"sent": len(load.accepted)}
    sent_while_down = [
        body for body in final.values()
        if down_from < datetime.fromisoformat(body["updatedAt"]) < down_until
    ]
    assert len(sent_while_down) > 50, "delivery stalled while Redis was down"
    assert worker_logs.count("shared health board") >= 2, "the fallback was not logged"
