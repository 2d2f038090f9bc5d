"""Rate limits as written: parsed once into named limits and their ``RateLimit-Policy``; a wrong
one refused, with a sentence, by the settings and by ``keys create --rate``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from micromailer.cli import main
from micromailer.config import Settings
from micromailer.security.rate_headers import limit_field, policy_field, sf_string
from micromailer.security.rate_policy import cached_rate_limit, parse_rate_limit


@pytest.mark.parametrize(("text", "header"), [
    ("100/second", '"per-second";q=100;w=1'),
    ("1000 per hour", '"per-hour";q=1000;w=3600'),
    ("5 per 2 minutes", '"per-2-minutes";q=5;w=120'),
    ("10/second;500/hour", '"per-second";q=10;w=1, "per-hour";q=500;w=3600'),
    ("20/day", '"per-day";q=20;w=86400'),
])
def test_a_limit_is_parsed_into_named_quotas_and_its_policy_header(text: str, header: str) -> None:
    policy = parse_rate_limit(text)

    assert policy.policy_header == header
    assert policy.text == text


@pytest.mark.parametrize(("text", "sentence"), [
    ("lots", "`lots` is not a rate limit: write a number of requests per period, such as"),
    ("10 per fortnight", "`10 per fortnight` is not a rate limit"),
    ("10/second;", "`10/second;` is not a rate limit"),
    ("0/second", "`0/second` allows no request at all"),
    ("1/minute;5/minute", "`1/minute;5/minute` has two limits per minute: keep one per period."),
])
def test_a_wrong_limit_is_refused_with_a_sentence(text: str, sentence: str) -> None:
    with pytest.raises(ValueError, match="^" + sentence.replace("(", r"\(")) as refused:
        parse_rate_limit(text)

    assert str(refused.value).endswith(".")


def test_a_limit_is_parsed_once() -> None:
    assert cached_rate_limit("7/minute") is cached_rate_limit("7/minute")


def test_the_setting_is_checked_at_start_and_named_in_the_sentence() -> None:
    assert Settings(rate_limit="100/second").rate_limit == "100/second"
    assert Settings(rate_limit=" ").rate_limit is None

    with pytest.raises(ValidationError, match="MICROMAILER_RATE_LIMIT: `100/sec0nd` is not a"):
        Settings(rate_limit="100/sec0nd")


def test_the_setting_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROMAILER_RATE_LIMIT", "0/hour")

    with pytest.raises(ValidationError, match="MICROMAILER_RATE_LIMIT: `0/hour` allows no"):
        Settings()


def test_keys_create_refuses_a_wrong_rate_before_touching_the_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "create", "batch", "--rate", "fast"],
                                env={"MICROMAILER_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 2
    assert "Invalid value for '--rate'" in result.output
    assert "`fast` is not a rate limit" in result.output


def test_the_header_fields_are_structured_field_lists() -> None:
    assert sf_string('a "quoted" \\ name') == '"a \\"quoted\\" \\\\ name"'
    assert policy_field([('"a"', 5, 60), ('"b"', 9, 1)]) == '"a";q=5;w=60, "b";q=9;w=1'
    assert limit_field([('"a"', 0, 12)]) == '"a";r=0;t=12'
    with pytest.raises(ValueError, match="printable ASCII"):
        sf_string("per-sécond")
