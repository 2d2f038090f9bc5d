"""Settings: the sandbox is asked for, never fallen into."""

from __future__ import annotations

from typing import Any

from micromailer.config import KNOWN_PROVIDERS, SANDBOX_API_KEY, Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_without_credentials_or_a_sandbox_url_nothing_can_deliver_and_a_sentence_says_so() -> None:
    bare = settings()

    assert not bare.sandbox_mode
    assert bare.base_url("sendgrid") == "https://api.sendgrid.com"
    reason = bare.unconfigured_reason()
    assert reason is not None
    assert "SENDGRID_API_KEY, MANDRILL_API_KEY" in reason
    assert "MICROMAILER_SANDBOX_URL" in reason


def test_a_sandbox_url_without_credentials_is_sandbox_mode() -> None:
    chosen = settings(sandbox_url="http://sandbox:8025")

    assert chosen.sandbox_mode
    assert chosen.unconfigured_reason() is None
    assert chosen.provider_names() == list(KNOWN_PROVIDERS)
    assert chosen.base_url("mandrill") == "http://sandbox:8025"
    assert chosen.provider_secret("sendgrid") == SANDBOX_API_KEY


def test_credentials_win_over_a_sandbox_url() -> None:
    live = settings(sandbox_url="http://sandbox:8025", sendgrid_api_key="sg-key")

    assert not live.sandbox_mode
    assert live.unconfigured_reason() is None
    assert live.provider_names() == ["sendgrid"]
    assert live.base_url("sendgrid") == "https://api.sendgrid.com"
