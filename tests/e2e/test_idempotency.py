"""``Idempotency-Key`` over real HTTP: against ``micromailer run`` (SQLite), and against two
``serve`` processes sharing PostgreSQL, where a request still in progress is held on purpose."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from micromailer.api.errors import STORE_UNAVAILABLE
from micromailer.api.intake.idempotency import KEY_IN_PROGRESS, KEY_REUSED
from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

#: Requests sent at once with one key.
BURST = 16


def email(subject: str) -> dict[str, str]:
    return {"to": "ada@example.com", "subject": subject, "content": "Your **receipt**."}


def post(url: str, body: dict[str, str], key: str, **options: object) -> httpx.Response:
    return httpx.post(f"{url}/email", json=body, headers={"Idempotency-Key": key},
                      timeout=30, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    running = EmbeddedService(tmp_path_factory.mktemp("idempotency") / "var").start()
    try:
        yield running
    finally:
        running.stop()


def _database(service: EmbeddedService) -> sqlite3.Connection:
    return sqlite3.connect(service.data_dir / "micromailer.sqlite3", timeout=30)


def _stored(service: EmbeddedService, subject: str) -> int:
    with _database(service) as connection:
        count: int = connection.execute(
            "SELECT count(*) FROM emails WHERE subject = ?", (subject,)).fetchone()[0]
    return count


def _sent(service: EmbeddedService, subject: str) -> int:
    return sum(1 for provider in ("sendgrid", "mandrill")
               for message in service.captured(provider) if message["subject"] == subject)


def test_a_retry_gets_the_same_answer_and_the_email_is_sent_once(
    service: EmbeddedService,
) -> None:
    key, body = str(uuid.uuid4()), email("retried receipt")
    first = post(service.url, body, key)
    again = post(service.url, body, key)

    assert first.status_code == again.status_code == 202, first.text
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    email_id = first.json()["emailId"]
    assert service.wait_final([email_id])[email_id]["status"] == "sent"
    assert post(service.url, body, key).content == first.content  # still the first answer
    assert _stored(service, "retried receipt") == 1
    assert _sent(service, "retried receipt") == 1


def test_the_key_with_another_body_is_refused_and_stores_nothing(
    service: EmbeddedService,
) -> None:
    key = str(uuid.uuid4())
    assert post(service.url, email("first body"), key).status_code == 202

    other = post(service.url, email("second body"), key)

    assert other.status_code == 409
    assert other.json() == {"status": "failed", "error": KEY_REUSED, "details": []}
    assert _stored(service, "second body") == 0


def test_requests_sent_at_once_with_one_key_store_one_email(service: EmbeddedService) -> None:
    key, body = str(uuid.uuid4()), email("burst receipt")
    start = threading.Barrier(BURST)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            start.wait()
            return client.post(f"{service.url}/email", json=body,
                               headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(one, range(BURST)))

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {202, 409}, statuses
    accepted = {answer.content for answer in answers if answer.status_code == 202}
    assert len(accepted) == 1  # the first answer, and its replays
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"] == KEY_IN_PROGRESS
            assert answer.headers["retry-after"] == "1"
    assert _stored(service, "burst receipt") == 1


def test_a_request_the_store_refused_leaves_the_key_free(service: EmbeddedService) -> None:
    """The store refuses every new email (a trigger) while the first request is answered:
    503; once it takes them again, the key serves a corrected request."""
    key = str(uuid.uuid4())
    with _database(service) as connection:
        connection.execute("CREATE TRIGGER refuse_emails BEFORE INSERT ON emails "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    try:
        refused = post(service.url, email("refused first"), key)
    finally:
        with _database(service) as connection:
            connection.execute("DROP TRIGGER refuse_emails")

    corrected = post(service.url, email("corrected second"), key)

    assert refused.status_code == 503 and refused.json()["error"] == STORE_UNAVAILABLE
    assert corrected.status_code == 202, corrected.text
    assert _stored(service, "corrected second") == 1


# -- distributed: two API processes, one PostgreSQL ---------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_backends() as backends:
        running = Cluster(tmp_path_factory.mktemp("idempotency-cluster"), backends,
                          apis=2, workers=0).start()
        try:
            yield running
        finally:
            running.stop()


def _connect(cluster: Cluster) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(cluster.backends.database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def test_a_key_answered_by_one_api_process_is_replayed_by_the_other(cluster: Cluster) -> None:
    one, other = (client.url for client in cluster.clients)
    key, body = str(uuid.uuid4()), email("two processes")

    first = post(one, body, key)
    again = post(other, body, key)

    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert post(other, email("two processes, changed"), key).status_code == 409


def test_a_request_still_in_progress_is_a_409_then_its_answer_is_replayed(
    cluster: Cluster,
) -> None:
    """The test holds the ``emails`` table locked: the first request has its key but cannot
    store its email; the second, with the same key, is told the first is in progress."""
    one, other = (client.url for client in cluster.clients)
    key, body = str(uuid.uuid4()), email("held in progress")
    with _connect(cluster) as holder, _connect(cluster) as reader, ThreadPoolExecutor(1) as pool:
        with holder.transaction():
            holder.execute("LOCK TABLE emails IN EXCLUSIVE MODE")
            first = pool.submit(post, one, body, key)
            _until_reserved(reader, key)
            second = post(other, body, key)
            held = not first.done()
        # the lock is released: the first request goes on
        first_answer = first.result(timeout=30)
        stored = reader.execute(
            "SELECT count(*) FROM emails WHERE subject = %s", ("held in progress",)
        ).fetchone()

    assert held
    assert second.status_code == 409
    assert second.json() == {"status": "failed", "error": KEY_IN_PROGRESS, "details": []}
    assert first_answer.status_code == 202, first_answer.text
    assert post(other, body, key).content == first_answer.content
    assert stored == (1,)


def _until_reserved(reader: psycopg.Connection[tuple[object, ...]], key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if reader.execute("SELECT 1 FROM idempotency_keys WHERE key = %s", (key,)).fetchone():
            return
        time.sleep(0.05)
    raise AssertionError("the first request never reserved its key")

