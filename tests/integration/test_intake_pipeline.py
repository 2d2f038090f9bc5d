"""Group commit: concurrent requests share commits; each is answered only once stored."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from micromailer.delivery.intake import Sender
from micromailer.delivery.pipeline import IntakePipeline
from micromailer.domain.attempt import NewEmail
from micromailer.domain.validation import EmailRequest
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade
from micromailer.store.stats import StatsStore

SENDER = Sender("no-reply@example.com", "test")


class CountingStore(EmailStore):
    """A real SQLite store that counts its commits of new emails."""

    def __init__(self, url: str, fail: bool = False) -> None:
        super().__init__(make_engine(url))
        self.batches: list[int] = []
        self.fail = fail

    def add_emails(self, news: Sequence[NewEmail]):  # type: ignore[no-untyped-def]
        if self.fail:
            raise OperationalError("INSERT", {}, Exception("database is down"))
        self.batches.append(len(news))
        return super().add_emails(news)


def _request(n: int) -> EmailRequest:
    return EmailRequest(to=f"user{n}@example.com", subject=f"s{n}", content=f"*{n}*")


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/store.sqlite3"
    upgrade(url)
    return url


def test_concurrent_requests_are_stored_in_shared_commits_and_all_published(url: str) -> None:
    store = CountingStore(url)
    published: list[str] = []

    async def scenario() -> list[str]:
        pipeline = IntakePipeline(store, published.extend, SENDER)
        accepted = await asyncio.gather(*(pipeline.accept(_request(n)) for n in range(200)))
        await pipeline.close()
        return [a.email_id for a in accepted]

    ids = asyncio.run(scenario())

    assert sum(store.batches) == 200
    assert len(store.batches) < 200, "every request had a commit of its own"
    assert all(store.get_email(email_id) is not None for email_id in ids), "answered, not stored"
    assert sorted(published) == sorted(ids), "each stored email is published exactly once"


def test_a_store_failure_reaches_every_request_of_the_batch_and_publishes_nothing(
    url: str,
) -> None:
    store = CountingStore(url, fail=True)
    published: list[str] = []

    async def scenario() -> list[BaseException | object]:
        pipeline = IntakePipeline(store, published.extend, SENDER)
        results = await asyncio.gather(
            *(pipeline.accept(_request(n)) for n in range(20)), return_exceptions=True
        )
        await pipeline.close()
        return results

    results = asyncio.run(scenario())

    assert all(isinstance(result, OperationalError) for result in results)
    assert published == []
    assert StatsStore(store.engine).count_by_status() == {}


def test_a_failed_publish_leaves_the_emails_stored_for_the_sweeper(url: str) -> None:
    store = CountingStore(url)

    def broken_broker(ids: Sequence[str]) -> None:
        raise ConnectionError("broker down")

    async def scenario() -> str:
        pipeline = IntakePipeline(store, broken_broker, SENDER)
        accepted = await pipeline.accept(_request(1))
        await pipeline.close()
        return accepted.email_id

    email_id = asyncio.run(scenario())

    view = store.get_email(email_id)
    assert view is not None and view.status == "queued"


def test_a_lone_email_is_published_at_once_and_a_burst_after_it_together(url: str) -> None:
    """At most one publish per interval: the first email after a quiet spell does not wait,
    the ones stored within the interval after it go in one batch."""
    batches: list[list[str]] = []
    first_published = threading.Event()

    def publish_many(ids: Sequence[str]) -> None:
        batches.append(list(ids))
        first_published.set()

    async def scenario() -> tuple[str, list[str]]:
        pipeline = IntakePipeline(EmailStore(make_engine(url)), publish_many, SENDER,
                                  publish_interval=3.0)
        lone = await pipeline.accept(_request(0))
        assert await asyncio.to_thread(first_published.wait, 2.0), "the lone email waited"
        burst = [await pipeline.accept(_request(n)) for n in range(1, 4)]  # three commits
        await pipeline.close()  # publishes what was stored
        return lone.email_id, [accepted.email_id for accepted in burst]

    lone, burst = asyncio.run(scenario())

    assert batches == [[lone], burst]
