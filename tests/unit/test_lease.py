"""The lease a claim takes: long enough for every configured provider's try to run to its total
timeout, never shorter than ``MICROMAILER_CLAIM_TIMEOUT``."""

from __future__ import annotations

from typing import Any

import pytest

from micromailer.config import LEASE_MARGIN, Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("providers", "total_timeout", "claim_timeout", "lease"),
    [
        ("sendgrid,mandrill", 30.0, 120.0, 120.0),  # the defaults: the configured floor wins
        ("sendgrid,mandrill", 60.0, 120.0, 2 * 60.0 + LEASE_MARGIN),
        ("sendgrid", 20.0, 2.0, 20.0 + LEASE_MARGIN),  # a lease too short for one try
        ("sendgrid,mandrill", 20.0, 2.0, 2 * 20.0 + LEASE_MARGIN),
    ],
)
def test_the_lease_outlasts_one_try_of_every_provider(
    providers: str, total_timeout: float, claim_timeout: float, lease: float
) -> None:
    configured = settings(providers=providers, provider_total_timeout=total_timeout,
                          claim_timeout=claim_timeout)

    assert configured.lease_seconds == lease


def test_the_sandbox_counts_every_fake_provider() -> None:
    sandbox = settings(provider_total_timeout=50.0, claim_timeout=1.0,
                       sandbox_url="http://127.0.0.1:8025")

    assert sandbox.sandbox_mode
    assert sandbox.lease_seconds == len(sandbox.provider_names()) * 50.0 + LEASE_MARGIN
