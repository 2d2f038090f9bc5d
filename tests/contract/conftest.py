"""Fixtures of the contract suite: one sandbox over real HTTP, recording clients, spec schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    MANDRILL_BODY_POINTER,
    MANDRILL_SPEC,
    SANDBOX_KEYS,
    SENDGRID_BODY_POINTER,
    SENDGRID_SPEC,
    RequestRecorder,
    body_validator,
    load_spec,
    without_mandrill_key_quirk,
)

FaultSetter = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxThread]:
    """The fake providers on a free loopback port for the whole session."""
    with SandboxThread(api_keys=SANDBOX_KEYS, seed=20240611) as running:
        yield running


@pytest.fixture
def control(sandbox: SandboxThread) -> Iterator[httpx.Client]:
    """A client of the sandbox's control API; every provider is reset before the test."""
    with httpx.Client(base_url=sandbox.url, timeout=5.0, trust_env=False) as client:
        client.post("/_sandbox/reset").raise_for_status()
        yield client


@pytest.fixture
def set_faults(control: httpx.Client) -> FaultSetter:
    """``set_faults("sendgrid", failRate=1.0, status=503)`` → the settings the sandbox kept."""

    def apply(provider: str, **faults: Any) -> dict[str, Any]:
        response = control.put(f"/_sandbox/{provider}/faults", json=faults)
        response.raise_for_status()
        settings: dict[str, Any] = response.json()
        return settings

    return apply


@pytest.fixture
def recorder() -> RequestRecorder:
    return RequestRecorder()


@pytest.fixture
def http_client(recorder: RequestRecorder) -> Iterator[httpx.Client]:
    """What adapters get in production (one pooled client), plus a request recorder."""
    with httpx.Client(
        timeout=httpx.Timeout(2.0, connect=1.0),
        trust_env=False,
        event_hooks={"request": [recorder]},
    ) as client:
        yield client


@pytest.fixture(scope="session")
def sendgrid_body_schema() -> Draft202012Validator:
    """SendGrid's Mail Send request body schema, from its own OpenAPI file."""
    return body_validator(load_spec(SENDGRID_SPEC), SENDGRID_BODY_POINTER)


@pytest.fixture(scope="session")
def mandrill_spec() -> dict[str, Any]:
    return load_spec(MANDRILL_SPEC)


@pytest.fixture(scope="session")
def mandrill_body_schema(mandrill_spec: dict[str, Any]) -> Draft202012Validator:
    """Mandrill's ``MessagesSendRequest`` schema, with its ApiKey quirk lifted (see helper)."""
    return body_validator(without_mandrill_key_quirk(mandrill_spec), MANDRILL_BODY_POINTER)
