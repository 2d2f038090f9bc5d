"""Test emails and live emails never share a dispatcher: the guard, and the lazy sandbox route."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from pydantic import SecretStr

from micromailer.config import SANDBOX_API_KEY, Settings
from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.sandbox_route import FixedSandbox, LocalSandbox, SandboxRoute
from micromailer.delivery.verdict import Delivered, RetryLater, Undeliverable
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.original import OriginalStrategy
from micromailer.providers.registry import build_sandbox_adapters
from micromailer.queue.runtime import sandbox_locator
from tests.support.fakes import ScriptedAdapter, accepted, make_message


def dispatcher(*adapters: ScriptedAdapter, test_traffic: bool = False) -> Dispatcher:
    board = MemoryBoard(OriginalStrategy(), base_scores([a.name for a in adapters]))
    return Dispatcher(list(adapters), board, test_traffic=test_traffic)


@pytest.mark.parametrize("blocking", [True, False])
def test_a_live_dispatcher_refuses_a_test_email_before_any_provider_sees_it(
    blocking: bool,
) -> None:
    real = ScriptedAdapter("sendgrid", accepted())
    live = dispatcher(real)
    message = make_message(test=True)

    report = live.attempt(message) if blocking else asyncio.run(live.attempt_async(message))

    assert real.calls == 0
    assert report.tries == []
    assert isinstance(report.verdict, Undeliverable)
    assert "a test email never goes to a real provider" in report.verdict.error


def test_a_test_dispatcher_refuses_a_live_email_and_carries_test_ones() -> None:
    fake = ScriptedAdapter("sendgrid", accepted("fake-1"))
    sandbox = dispatcher(fake, test_traffic=True)

    refused = asyncio.run(sandbox.attempt_async(make_message()))
    carried = asyncio.run(sandbox.attempt_async(make_message(test=True)))

    assert isinstance(refused.verdict, Undeliverable)
    assert carried.verdict == Delivered("sendgrid", "fake-1")
    assert fake.calls == 1


class CountingLocator:
    def __init__(self, url: str = "http://127.0.0.1:9", error: Exception | None = None) -> None:
        self.calls = 0
        self.closed = False
        self._url = url
        self._error = error

    def url(self) -> str:
        self.calls += 1
        if self._error is not None:
            raise self._error
        return self._url

    def close(self) -> None:
        self.closed = True


def test_the_route_locates_the_sandbox_on_the_first_test_email_only_and_once() -> None:
    locator = CountingLocator()
    fake = ScriptedAdapter("sendgrid", accepted())
    built: list[str] = []

    def build(url: str) -> Dispatcher:
        built.append(url)
        return dispatcher(fake, test_traffic=True)

    route = SandboxRoute(locator, build)
    assert locator.calls == 0

    async def two() -> None:
        await route.attempt_async(make_message(test=True))
        await route.attempt_async(make_message(test=True))

    asyncio.run(two())
    route.close()

    assert (locator.calls, built, fake.calls, locator.closed) == (
        1, ["http://127.0.0.1:9"], 2, True
    )


def test_concurrent_first_emails_build_one_dispatcher() -> None:
    locator = CountingLocator()
    route = SandboxRoute(locator, lambda url: dispatcher(
        ScriptedAdapter("sendgrid", accepted()), test_traffic=True))
    threads = [threading.Thread(target=route.dispatcher) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert locator.calls == 1


def test_a_sandbox_that_cannot_start_means_retry_later_not_a_lost_email() -> None:
    route = SandboxRoute(CountingLocator(error=RuntimeError("port in use")),
                         lambda url: pytest.fail("nothing to build"))

    report = asyncio.run(route.attempt_async(make_message(test=True)))

    assert report.tries == []
    assert isinstance(report.verdict, RetryLater)
    assert "port in use" in report.verdict.error


def test_test_adapters_are_the_configured_providers_at_the_sandbox_with_its_key() -> None:
    settings = Settings(
        sendgrid_api_key=SecretStr("SG.real-secret"), mandrill_api_key=SecretStr("md-real"),
    )

    with httpx.Client() as client:
        adapters = build_sandbox_adapters(settings, client, "http://127.0.0.1:8025")

    assert [(a.name, a.base_url) for a in adapters] == [
        ("sendgrid", "http://127.0.0.1:8025"), ("mandrill", "http://127.0.0.1:8025"),
    ]
    assert {a._api_key for a in adapters} == {SANDBOX_API_KEY}


def test_the_sandbox_url_setting_is_where_test_emails_go_else_a_local_sandbox() -> None:
    fixed = sandbox_locator(Settings(sandbox_url="http://sandbox.internal:8025/"))
    local = sandbox_locator(Settings())

    assert isinstance(fixed, FixedSandbox)
    assert fixed.url() == "http://sandbox.internal:8025"
    assert isinstance(local, LocalSandbox)


def test_a_local_sandbox_starts_once_accepts_only_the_sandbox_key_and_stops() -> None:
    sandbox = LocalSandbox()
    url = sandbox.url()
    try:
        assert sandbox.url() == url
        wrong = httpx.post(f"{url}/v3/mail/send", json={}, headers={"Authorization": "Bearer x"})
        stats = httpx.get(f"{url}/_sandbox/sendgrid/stats").json()
    finally:
        sandbox.close()

    assert url.startswith("http://127.0.0.1:")
    assert wrong.status_code == 401
    assert stats == {"accepted": 0, "rejected": 1}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sandbox/sendgrid/stats")
