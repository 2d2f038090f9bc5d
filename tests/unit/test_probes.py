"""Synthetic probes: their settings, each adapter's test-mode request, what an answer teaches,
and what probes change in the simulation."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import pytest
from pydantic import ValidationError

from micromailer.config import Settings
from micromailer.delivery.probes import Prober, lesson_of, probe_message
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.breaker import BreakerStrategy
from micromailer.health.lesson import Lesson
from micromailer.providers.base import SendResult
from micromailer.providers.errors import (
    AuthError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.http import HttpSender
from micromailer.providers.mailgun import MailgunAdapter
from micromailer.providers.mandrill import MandrillAdapter
from micromailer.providers.postmark import TEST_TOKEN, PostmarkAdapter
from micromailer.providers.sendgrid import SendGridAdapter
from micromailer.simulate.engine import run_once
from micromailer.simulate.scenarios import get_scenario

MESSAGE = probe_message("ops@example.com")


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def client() -> HttpSender:
    return cast(HttpSender, httpx.Client())


def test_probes_are_off_by_default_and_probe_every_configured_provider_with_a_test_mode() -> None:
    assert settings(sandbox_url="http://sandbox").probed_providers() == []
    on = settings(sandbox_url="http://sandbox", probe_interval=30)
    assert on.probed_providers() == ["sendgrid", "postmark", "mailgun"]
    chosen = settings(sandbox_url="http://sandbox", probe_interval=30, probe_providers="Mailgun")
    assert chosen.probed_providers() == ["mailgun"]


def test_a_provider_without_a_test_mode_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValidationError) as refused:
        settings(probe_interval=30, probe_providers="sendgrid, ses,brevo")

    text = str(refused.value)
    assert "MICROMAILER_PROBE_PROVIDERS names ses, brevo: only sendgrid, postmark, mailgun " \
        "have a test mode" in text


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValidationError):
        settings(probe_interval=-1)


def test_sendgrid_probes_in_sandbox_mode_through_the_send_request(client: HttpSender) -> None:
    adapter = SendGridAdapter(api_key="key", base_url="https://sg.test", client=client)

    probe = json.loads(adapter.build_probe_request(MESSAGE).content)
    send = json.loads(adapter.build_request(MESSAGE).content)

    assert probe.pop("mail_settings") == {"sandbox_mode": {"enable": True}}
    assert probe == send
    assert "mail_settings" not in send


def test_postmark_probes_with_its_test_token_instead_of_the_server_token(
    client: HttpSender,
) -> None:
    adapter = PostmarkAdapter(api_key="real-token", base_url="https://pm.test", client=client)

    probe = adapter.build_probe_request(MESSAGE)
    send = adapter.build_request(MESSAGE)

    assert probe.headers["X-Postmark-Server-Token"] == TEST_TOKEN
    assert send.headers["X-Postmark-Server-Token"] == "real-token"
    assert probe.content == send.content


def test_mailgun_probes_with_o_testmode(client: HttpSender) -> None:
    adapter = MailgunAdapter(api_key="key", base_url="https://mg.test", client=client,
                             options={"domain": "mg.example.com"})

    probe = adapter.build_probe_request(MESSAGE).read()
    send = adapter.build_request(MESSAGE).read()

    assert b'name="o:testmode"\r\n\r\nyes' in probe
    assert b"o:testmode" not in send


def test_a_provider_without_a_test_mode_cannot_be_probed(client: HttpSender) -> None:
    mandrill = MandrillAdapter(api_key="key", base_url="https://md.test", client=client)
    health = MemoryBoard(BreakerStrategy(), base_scores(["mandrill"]))

    with pytest.raises(ValueError, match="no test mode to probe mandrill"):
        Prober([mandrill], health, "ops@example.com")


def test_what_an_answer_teaches() -> None:
    assert lesson_of("sendgrid", SendResult("sendgrid", None)) == Lesson("sendgrid", True)
    assert lesson_of("sendgrid", ServerError("sendgrid", "down", status_code=503)) == Lesson(
        "sendgrid", False
    )
    limited = RateLimitedError("sendgrid", "slow down", status_code=429, retry_after=30.0)
    assert lesson_of("sendgrid", limited) == Lesson("sendgrid", False, 30.0)
    assert lesson_of("sendgrid", AuthError("sendgrid", "bad key", status_code=401)) == Lesson(
        "sendgrid", False
    )
    bad = RequestRejectedError("sendgrid", "bad from", status_code=400)
    assert lesson_of("sendgrid", bad) is None
    assert lesson_of("sendgrid", RuntimeError("a bug")) is None


def test_in_the_simulation_probes_spare_failed_tries_of_a_parked_provider() -> None:
    scenario = get_scenario("original-outage")

    without = run_once(scenario, "breaker", 1)
    probed = run_once(scenario, "breaker", 1, probe_interval=5.0)

    assert without.probes == 0
    assert probed.probes == 2 * 359  # two providers, every 5 s of 1,800 s but the last
    assert probed.failed_tries < without.failed_tries
    assert probed.undelivered == without.undelivered == 0
    with pytest.raises(ValueError):
        run_once(scenario, "breaker", 1, probe_interval=0.0)
