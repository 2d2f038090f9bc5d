"""Adapters built from settings reach the fakes: the registry's wiring, end to end."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from micromailer.config import KNOWN_PROVIDERS, SANDBOX_API_KEY, Settings
from micromailer.providers.errors import ConfigurationError
from micromailer.providers.mandrill import MandrillAdapter
from micromailer.providers.registry import ADAPTERS, build_adapters, make_http_client
from micromailer.providers.sendgrid import SendGridAdapter
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import SANDBOX_KEYS, make_message


def test_every_known_provider_has_an_adapter_of_its_kind() -> None:
    assert sorted(ADAPTERS) == sorted(KNOWN_PROVIDERS)
    assert all(adapter.kind == kind for kind, adapter in ADAPTERS.items())


def test_adapters_follow_the_configured_order_and_send_to_their_base_urls(
    sandbox: SandboxThread, control: httpx.Client
) -> None:
    settings = Settings(
        providers="mandrill,sendgrid",
        sendgrid_api_key=SecretStr(SANDBOX_KEYS["sendgrid"]),
        mandrill_api_key=SecretStr(SANDBOX_KEYS["mandrill"]),
        sendgrid_base_url=sandbox.url,
        mandrill_base_url=f"{sandbox.url}/",
    )
    with make_http_client(settings) as client:
        adapters = build_adapters(settings, client)
        results = [adapter.send(make_message()) for adapter in adapters]

    assert [type(a) for a in adapters] == [MandrillAdapter, SendGridAdapter]
    assert [r.provider for r in results] == ["mandrill", "sendgrid"]
    assert all(r.message_id for r in results)
    for provider in ("mandrill", "sendgrid"):
        assert control.get(f"/_sandbox/{provider}/stats").json()["accepted"] == 1


def test_sandbox_mode_points_every_adapter_at_the_sandbox_with_its_key() -> None:
    settings = Settings(sandbox_url="http://127.0.0.1:8025")
    with make_http_client(settings) as client:
        adapters = build_adapters(settings, client)

    assert [a.name for a in adapters] == list(KNOWN_PROVIDERS)
    assert {a.base_url for a in adapters} == {"http://127.0.0.1:8025"}
    assert {a._api_key for a in adapters} == {SANDBOX_API_KEY}


def test_a_named_provider_without_a_key_is_a_configuration_error() -> None:
    settings = Settings(providers="sendgrid,mandrill", sendgrid_api_key=SecretStr("sg-key"))
    with make_http_client(settings) as client, pytest.raises(ConfigurationError) as caught:
        build_adapters(settings, client)

    assert "MANDRILL_API_KEY" in str(caught.value)
    assert "sg-key" not in str(caught.value)


def test_the_shared_client_uses_the_configured_timeouts() -> None:
    settings = Settings(provider_timeout=7.5, provider_connect_timeout=1.5)
    with make_http_client(settings) as client:
        assert client.timeout == httpx.Timeout(7.5, connect=1.5)
        assert client.headers["user-agent"].startswith("micromailer/")
