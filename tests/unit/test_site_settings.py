"""The site settings refused at start with a sentence, before anything listens."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from micromailer.cli import main

BAD = {
    "MICROMAILER_ALLOWED_ORIGINS": ("https://app.example.com/", "scheme://host[:port]"),
    "MICROMAILER_ALLOWED_HOSTS": ("https://mail.example.com", "not URLs"),
    "MICROMAILER_TRUSTED_PROXIES": ("nginx", "not an IP address or network"),
}


@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize("variable", sorted(BAD))
def test_a_malformed_site_setting_stops_the_service_with_a_sentence(
    command: str, variable: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    value, words = BAD[variable]
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("MICROMAILER_SANDBOX_URL", "http://127.0.0.1:9")

    result = CliRunner().invoke(main, [command, "--port", "9"])

    assert result.exit_code == 2, result.output
    assert "invalid configuration" in result.output
    assert variable in result.output and words in result.output


def test_the_sandbox_refuses_a_malformed_host_list() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--allowed-hosts", "http://sandbox:8025"])

    assert result.exit_code == 2
    assert "--allowed-hosts lists host names" in result.output
