"""Synthetic probes against the sandbox fakes over loopback: test-mode requests that send
nothing, feeding a real health board; the worker's probe thread; its settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest

from micromailer.config import SANDBOX_API_KEY, Settings
from micromailer.delivery.probes import Prober, ProbeRunner, probe_message
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.redis_states import redis_client
from micromailer.providers.base import ProviderAdapter
from micromailer.providers.http import HttpSender
from micromailer.providers.mailgun import MailgunAdapter
from micromailer.providers.postmark import PostmarkAdapter
from micromailer.providers.sendgrid import SendGridAdapter
from micromailer.queue.probes import RedisClaims, build_probes
from micromailer.sandbox.server import SandboxThread
from tests.support.redis_server import closed_port_url

PROBED = ("sendgrid", "postmark", "mailgun")
SENDER = "probe@example.com"


class Clock:
    """A board clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread() as running:
        yield running


@pytest.fixture
def control(sandbox: SandboxThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5.0) as client:
        client.post("/_sandbox/reset").raise_for_status()
        yield client
        client.post("/_sandbox/reset").raise_for_status()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def adapters(url: str, client: httpx.Client) -> list[ProviderAdapter]:
    sender = cast(HttpSender, client)
    return [
        SendGridAdapter(api_key=SANDBOX_API_KEY, base_url=url, client=sender),
        PostmarkAdapter(api_key=SANDBOX_API_KEY, base_url=url, client=sender),
        MailgunAdapter(api_key=SANDBOX_API_KEY, base_url=url, client=sender,
                       options={"domain": "mg.example.com"}),
    ]


def board(clock: Clock) -> MemoryBoard:
    return MemoryBoard(BreakerStrategy(), base_scores(list(PROBED)), clock)


def captured(control: httpx.Client, provider: str) -> list[Any]:
    answer = control.get(f"/_sandbox/{provider}/messages")
    answer.raise_for_status()
    return cast(list[Any], answer.json())


def outage(control: httpx.Client, provider: str, fail_rate: float = 1.0) -> None:
    control.put(f"/_sandbox/{provider}/faults",
                json={"failRate": fail_rate, "status": 503}).raise_for_status()


def test_a_probe_of_each_provider_succeeds_and_sends_nothing(
    sandbox: SandboxThread, control: httpx.Client, http: httpx.Client
) -> None:
    health = board(Clock())
    lessons = Prober(adapters(sandbox.url, http), health, SENDER).probe_all()

    assert [(lesson.provider, lesson.succeeded) for lesson in lessons] == [
        (name, True) for name in PROBED
    ]
    for name in PROBED:
        assert captured(control, name) == [], f"{name}'s fake captured a probe"


def test_the_same_message_without_test_mode_is_captured(
    sandbox: SandboxThread, control: httpx.Client, http: httpx.Client
) -> None:
    """The fakes capture a real send of the probe's message: the test mode alone spares it."""
    for adapter in adapters(sandbox.url, http):
        adapter.send(probe_message(SENDER))

    assert [len(captured(control, name)) for name in PROBED] == [1, 1, 1]


def test_a_probe_during_an_outage_records_a_failure_and_a_later_success_raises_the_score(
    sandbox: SandboxThread, control: httpx.Client, http: httpx.Client
) -> None:
    clock = Clock()
    health = board(clock)
    prober = Prober(adapters(sandbox.url, http), health, SENDER)
    healthy = health.scores()
    outage(control, "sendgrid")

    lessons = prober.probe_all()

    assert ("sendgrid", False) in [(lesson.provider, lesson.succeeded) for lesson in lessons]
    parked = health.scores()
    assert parked["sendgrid"] < healthy["sendgrid"]
    assert health.ranked()[0] == "postmark"
    assert parked["postmark"] == healthy["postmark"]

    control.put("/_sandbox/sendgrid/faults", json={}).raise_for_status()
    clock.now += 1.0
    prober.probe_all()

    assert health.scores()["sendgrid"] > parked["sendgrid"]
    assert captured(control, "sendgrid") == []


def test_a_refused_probe_teaches_nothing(
    sandbox: SandboxThread, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A probe the provider refuses as a request (here a sender it finds no address in) is
    the probe's fault, not the provider's: no failure is recorded."""
    health = board(Clock())
    prober = Prober(adapters(sandbox.url, http)[:1], health, "not an address")
    before = health.scores()

    with caplog.at_level(logging.WARNING, logger="micromailer.delivery.probes"):
        assert prober.probe_all() == []

    assert health.scores() == before
    assert "probe of sendgrid refused" in caplog.text


def test_the_runner_probes_every_interval_and_stops_with_the_worker(
    sandbox: SandboxThread, control: httpx.Client, http: httpx.Client
) -> None:
    health = board(Clock())
    runner = ProbeRunner(Prober(adapters(sandbox.url, http)[:1], health, SENDER), 0.1)
    outage(control, "sendgrid")
    started = time.monotonic()
    runner.start()
    time.sleep(0.55)
    runner.stop(timeout=5.0)
    elapsed = time.monotonic() - started

    assert not runner.is_alive()
    assert 2 <= runner.rounds <= elapsed / 0.1
    failures = 1.0 - health.states()[0].health
    assert failures > 0.1  # several failures recorded: 0.9 ** rounds
    stopped_at = runner.rounds
    time.sleep(0.25)
    assert runner.rounds == stopped_at


def test_the_worker_builds_its_probes_from_the_settings(sandbox: SandboxThread) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, sandbox_url=sandbox.url, providers="sendgrid,mandrill,mailgun",
        probe_interval=0.05, sender_email=SENDER,
    )
    health = MemoryBoard(BreakerStrategy(), base_scores(settings.provider_names()))
    probes = build_probes(settings, health)
    assert probes is not None
    probes.start()
    deadline = time.monotonic() + 5.0
    while probes.runner.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    probes.close()

    assert probes.runner.rounds >= 1
    assert not probes.runner.is_alive()
    assert settings.probed_providers() == ["sendgrid", "mailgun"]


def test_probes_are_off_without_an_interval(sandbox: SandboxThread) -> None:
    settings = Settings(_env_file=None, sandbox_url=sandbox.url)  # type: ignore[call-arg]

    assert settings.probed_providers() == []
    assert build_probes(settings, MemoryBoard(BreakerStrategy(), {"sendgrid": 50.0})) is None


def test_a_probed_provider_not_configured_is_said_at_start_up(
    sandbox: SandboxThread, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, sandbox_url=sandbox.url, providers="sendgrid",
        probe_interval=30, probe_providers="postmark",
    )
    with caplog.at_level(logging.WARNING, logger="micromailer.queue.probes"):
        probes = build_probes(settings, MemoryBoard(BreakerStrategy(), {"sendgrid": 50.0}))

    assert probes is None
    assert "postmark not configured as a provider" in caplog.text


def test_workers_sharing_redis_make_one_probe_per_provider_per_interval(
    sandbox: SandboxThread, http: httpx.Client, redis_url: str, prefix: str
) -> None:
    interval = 0.5
    shared = board(Clock())
    workers = [
        Prober(adapters(sandbox.url, http), shared, SENDER,
               claim=RedisClaims(redis_client(redis_url), interval, prefix))
        for _ in range(2)
    ]

    first = [worker.probe_all() for worker in workers]
    assert [len(lessons) for lessons in first] == [3, 0]
    time.sleep(interval)
    second = [worker.probe_all() for worker in workers[::-1]]

    assert [len(lessons) for lessons in second] == [3, 0]
    assert [worker.sent for worker in workers] == [3, 3]


def test_without_redis_each_worker_probes_anyway(
    sandbox: SandboxThread, http: httpx.Client
) -> None:
    claims = RedisClaims(redis_client(closed_port_url(), timeout=0.2), 30.0)
    prober = Prober(adapters(sandbox.url, http), board(Clock()), SENDER, claim=claims)

    assert len(prober.probe_all()) == 3
