"""Settings: the sandbox is asked for, never fallen into."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

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


def test_the_sandbox_events_url_is_unset_by_default_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (settings().sandbox_events_url, settings().sandbox_events_delay) == (None, 2.0)
    monkeypatch.setenv("MICROMAILER_SANDBOX_EVENTS_URL", " http://127.0.0.1:8000/ ")
    monkeypatch.setenv("MICROMAILER_SANDBOX_EVENTS_DELAY", "0.1")

    assert (settings().sandbox_events_url, settings().sandbox_events_delay) == (
        "http://127.0.0.1:8000", 0.1
    )


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"sandbox_events_url": "127.0.0.1:8000"}, "must be the service's http:// or https://"),
        ({"sandbox_events_delay": -1}, "greater than or equal to 0"),
    ],
)
def test_a_bad_sandbox_events_setting_is_refused_with_a_sentence(
    values: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(ValidationError, match=sentence):
        settings(**values)
