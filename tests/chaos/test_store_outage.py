"""Chaos 2: PostgreSQL stopped for 10 s under load. No 500, no half-written email, and the
service resumes by itself when the database is back."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from micromailer.store.engine import make_engine
from micromailer.store.stats import StatsStore
from tests.chaos.conftest import start_postgres, stop_postgres
from tests.support.backends import Backends
from tests.support.cluster import Cluster
from tests.support.load import LoadResult, in_background, post_many

EMAILS = 900
RATE = 30.0


def test_a_database_outage_answers_503_writes_nothing_and_recovers(
    tmp_path: Path, backends: Backends
) -> None:
    cluster = Cluster(tmp_path, backends, apis=1, workers=2, concurrency=8).start()
    store = StatsStore(make_engine(backends.database_url))
    load = LoadResult()
    try:
        loader = in_background(post_many, [cluster.clients[0].url], EMAILS, threads=4,
                               rate=RATE, result=load)
        time.sleep(5)
        stop_postgres()
        try:
            accepted_before = len(load.accepted)
            time.sleep(10)
        finally:
            start_postgres()
        loader.join(timeout=120)
        assert load.finished is not None, "the load did not finish"
        final = cluster.clients[0].wait_final(load.accepted, timeout=180)
    finally:
        cluster.stop()

    assert set(load.statuses) <= {202, 503}, f"unexpected answers: {load.bodies}"
    assert load.statuses[503] > 0, "the outage was never seen by the API"
    assert "store is unavailable" in load.bodies[503]
    assert len(load.accepted) > accepted_before + 100, "the API did not resume after the outage"
    assert Counter(body["status"] for body in final.values()) == {"sent": len(load.accepted)}
    # Nothing half-written: exactly the accepted emails exist, each with its sent attempt.
    assert store.count_by_status() == {"sent": len(load.accepted)}
    assert all(any(a["outcome"] == "sent" for a in body["attempts"]) for body in final.values())
