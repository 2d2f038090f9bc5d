"""Rate limits across two ``micromailer serve`` processes sharing Redis (with PostgreSQL and
RabbitMQ): one key's requests through both count against one budget, the ones past it get 429
with ``Retry-After`` and the ``RateLimit`` headers, none gets a 5xx, and none is stored."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from micromailer.config import normalize_database_url
from micromailer.store.models import EmailRow
from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.keys import create_key

pytestmark = pytest.mark.e2e

#: MICROMAILER_RATE_LIMIT of both API processes, and the key with a rate of its own.
LIMIT, OWN_LIMIT = 7, 2
REQUESTS = 30
EMAIL = {"to": "ada@example.com", "subject": "Your order", "content": "Thanks!"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with fresh_backends() as backends:
        cluster = Cluster(tmp_path, backends, apis=2, workers=0,
                          MICROMAILER_RATE_LIMIT=f"{LIMIT}/hour")
        yield cluster
        cluster.stop()


def stored(cluster: Cluster, key_name: str | None = None) -> int:
    engine = create_engine(normalize_database_url(cluster.backends.database_url))
    query = select(func.count()).select_from(EmailRow)
    if key_name is not None:
        query = query.where(EmailRow.project == key_name)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def flood(cluster: Cluster, key: str, count: int) -> list[httpx.Response]:
    """``count`` emails with ``key``, through both API processes in turn, six at a time."""
    urls = [client.url for client in cluster.clients]

    def one(n: int) -> httpx.Response:
        return httpx.post(f"{urls[n % len(urls)]}/email", json=EMAIL, timeout=30,
                          headers={"Authorization": f"Bearer {key}"})

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, range(count)))


def test_one_keys_budget_is_shared_by_both_api_processes(cluster: Cluster) -> None:
    shop = create_key(cluster.env, "shop")
    batch = create_key(cluster.env, "batch", "--rate", f"{OWN_LIMIT}/hour")
    cluster.start()

    answers = flood(cluster, shop, REQUESTS)
    own = flood(cluster, batch, 6)

    odd = [(a.status_code, a.text) for a in answers + own if a.status_code not in (202, 429)]
    assert not odd, f"{odd[:5]}\n{cluster.logs()}"
    assert Counter(a.status_code for a in answers) == {202: LIMIT, 429: REQUESTS - LIMIT}
    assert Counter(a.status_code for a in own) == {202: OWN_LIMIT, 429: 6 - OWN_LIMIT}
    # one counter in Redis, counted atomically: each accepted request saw its own remainder
    remaining = sorted(int(re.search(r";r=(\d+)", a.headers["ratelimit"])[1])  # type: ignore[index]
                       for a in answers if a.status_code == 202)
    assert remaining == list(range(LIMIT))
    for answer in answers + own:
        assert re.fullmatch(r'"per-hour";r=\d+;t=\d+', answer.headers["ratelimit"])
    assert {a.headers["ratelimit-policy"] for a in answers} == {f'"per-hour";q={LIMIT};w=3600'}
    assert {a.headers["ratelimit-policy"] for a in own} == {f'"per-hour";q={OWN_LIMIT};w=3600'}
    for refused in (a for a in answers + own if a.status_code == 429):
        assert refused.json()["status"] == "failed"
        assert "Retry-After" in refused.json()["error"]
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert re.search(r";r=0;t=\d+$", refused.headers["ratelimit"])
    assert stored(cluster, "shop") == LIMIT
    assert stored(cluster, "batch") == OWN_LIMIT
    assert stored(cluster) == LIMIT + OWN_LIMIT
