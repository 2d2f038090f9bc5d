"""MICROMAILER_TRUSTED_PROXIES: parsed into uvicorn's options, nobody trusted by default."""

from __future__ import annotations

import pytest

from micromailer.cli import server_options
from micromailer.config import Settings
from micromailer.security.proxies import parse_trusted_proxies, uvicorn_proxy_options


def test_by_default_no_proxy_is_trusted_whatever_uvicorns_own_variable_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")

    assert uvicorn_proxy_options(None) == {"proxy_headers": False, "forwarded_allow_ips": []}
    assert uvicorn_proxy_options(" ") == {"proxy_headers": False, "forwarded_allow_ips": []}


def test_addresses_and_networks_are_passed_to_uvicorn_normalised() -> None:
    options = uvicorn_proxy_options("10.0.0.5, 10.1.2.3/16, [::1], fd00::/8")

    assert options == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.5", "10.1.0.0/16", "::1", "fd00::/8"],
    }


def test_a_star_trusts_every_peer() -> None:
    assert uvicorn_proxy_options("*") == {"proxy_headers": True, "forwarded_allow_ips": "*"}
    assert parse_trusted_proxies("10.0.0.1, *") == ["*"]


@pytest.mark.parametrize("entry", ["nginx", "10.0.0.0/33", "10.0.0.256", "http://10.0.0.1"])
def test_an_entry_that_is_no_address_is_refused_with_a_sentence(entry: str) -> None:
    with pytest.raises(ValueError, match=r"MICROMAILER_TRUSTED_PROXIES: .* not an IP address"):
        parse_trusted_proxies(entry)


def test_the_servers_options_carry_the_proxies() -> None:
    settings = Settings(_env_file=None, trusted_proxies="10.0.0.0/8")  # type: ignore[call-arg]

    options = server_options(settings, "0.0.0.0", 8000)

    assert options["host"] == "0.0.0.0" and options["port"] == 8000
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.0/8"]
