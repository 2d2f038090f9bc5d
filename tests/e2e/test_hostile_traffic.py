"""2,000 hostile requests against ``micromailer run`` and against two API processes sharing
PostgreSQL, RabbitMQ and Redis: each is refused with its status and a sentence, none gets a
5xx, and nothing is stored or sent beyond what the flooding key's own limit allowed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from micromailer.config import normalize_database_url
from micromailer.store.models import EmailRow
from tests.support.backends import fresh_backends
from tests.support.client import ApiClient
from tests.support.cluster import Cluster
from tests.support.hostile import Keys, barrage, bearer, send
from tests.support.keys import create_key, keys_command
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

#: The flooding key's budget: its first requests are accepted, the rest refused with 429.
FLOOD_LIMIT = 5
IDEMPOTENCY_KEY = "order-1234"


@dataclass
class Deployment:
    """What the barrage needs of a running deployment."""

    clients: list[ApiClient]
    env: dict[str, str]
    database_url: str
    sandbox_url: str

    def stored(self) -> int:
        engine = create_engine(normalize_database_url(self.database_url))
        try:
            with engine.connect() as connection:
                return int(connection.scalar(select(func.count()).select_from(EmailRow)) or 0)
        finally:
            engine.dispose()

    def sent(self) -> int:
        return sum(
            httpx.get(f"{self.sandbox_url}/_sandbox/{provider}/stats").json()["accepted"]
            for provider in ("sendgrid", "mandrill")
        )


@pytest.fixture(params=["embedded", "distributed"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "embedded":
        service = EmbeddedService(tmp_path / "var").start()
        try:
            yield Deployment([service], service.env,
                             f"sqlite:///{service.data_dir}/micromailer.sqlite3",
                             service.sandbox_url)
        finally:
            service.stop()
        return
    with fresh_backends() as backends:
        cluster = Cluster(tmp_path, backends, apis=2, workers=1, concurrency=8).start()
        try:
            yield Deployment(cluster.clients, cluster.env, backends.database_url,
                             cluster.sandbox_url)
        finally:
            cluster.stop()


def _keys(env: dict[str, str]) -> Keys:
    keys = Keys(
        alpha=create_key(env, "alpha"),
        beta=create_key(env, "beta"),
        revoked=create_key(env, "revoked"),
        flood=create_key(env, "flood", "--rate", f"{FLOOD_LIMIT}/hour"),
    )
    done = keys_command(env, "revoke", "revoked")
    assert done.returncode == 0, done.stderr
    return keys


def test_hostile_traffic_stores_nothing_sends_nothing_and_never_fails(
    deployment: Deployment,
) -> None:
    keys = _keys(deployment.env)
    alpha = deployment.clients[0].as_key(keys.alpha)
    legit = alpha.http.post(f"{alpha.url}/email", json={
        "to": "customer@example.com", "subject": "Your order", "content": "Thanks!",
    }, headers={**bearer(keys.alpha), "Idempotency-Key": IDEMPOTENCY_KEY})
    assert legit.status_code == 202, legit.text
    alpha_email = legit.json()["emailId"]
    alpha.wait_final([alpha_email])
    stored, sent = deployment.stored(), deployment.sent()

    requests = barrage(keys, alpha_email, IDEMPOTENCY_KEY)
    outcome = send([client.url for client in deployment.clients], requests)

    assert not outcome.unexpected, "\n".join(outcome.unexpected[:20])
    assert not [status for (_, status) in outcome.statuses if status >= 500]
    assert len(requests) == sum(outcome.statuses.values()) == 2000
    assert 1 <= outcome.accepted_floods <= FLOOD_LIMIT
    assert deployment.stored() == stored + outcome.accepted_floods
    admin = deployment.clients[0].as_key(create_key(deployment.env, "ops", "--scope", "admin"))
    recent = admin.http.get(f"{admin.url}/emails", params={"limit": 100}).json()
    admin.wait_final([row["emailId"] for row in recent])
    assert deployment.sent() == sent + outcome.accepted_floods
    # the email the other project asked for, 250 times, is untouched and still alpha's
    assert alpha.email(alpha_email)["status"] == "sent"
