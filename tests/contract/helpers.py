"""Helpers of the contract suite: messages, request recording, spec validators, dead ports."""

from __future__ import annotations

import copy
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from micromailer.providers.base import ProviderAdapter
from micromailer.providers.errors import ProviderError
from tests.support.fakes import make_message

#: Keys the contract suite's sandbox accepts (one each, so a wrong key is detectable).
SANDBOX_KEYS = {
    "sendgrid": "sg-contract-key",
    "mandrill": "md-contract-key",
    "mailgun": "mg-contract-key",
    "postmark": "pm-contract-token",
    "ses": "ses-contract-secret",
    "sparkpost": "sp-contract-key",
    "brevo": "xkeysib-contract-key",
    "resend": "re_contract_key",
    "smtp": "smtp-contract-key",
}

SPECS_ENV = "MICROMAILER_PROVIDER_SPECS"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPECS_DIR = REPO_ROOT.parent / "shared" / "provider-specs"

SENDGRID_SPEC = "sendgrid/tsg_mail_v3.json"
SENDGRID_BODY_POINTER = "/components/requestBodies/PostMailSend/content/application~1json/schema"
MANDRILL_SPEC = "mandrill/transactional.openapi.json"
MANDRILL_BODY_POINTER = "/components/schemas/MessagesSendRequest"


def sandbox_messages(control: httpx.Client, provider: str) -> list[dict[str, Any]]:
    """What the sandbox's fake of ``provider`` captured, oldest first."""
    messages: list[dict[str, Any]] = control.get(f"/_sandbox/{provider}/messages").json()
    return messages


def sandbox_stats(control: httpx.Client, provider: str) -> dict[str, int]:
    counts: dict[str, int] = control.get(f"/_sandbox/{provider}/stats").json()
    return counts


class RequestRecorder:
    """An httpx ``request`` event hook that keeps every request the client sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    @property
    def last(self) -> httpx.Request:
        assert self.requests, "no request was sent"
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def specs_dir() -> Path:
    """The provider-specs directory; skips the test when absent (fails it under ``CI=true``)."""
    configured = os.environ.get(SPECS_ENV)
    path = Path(configured) if configured else DEFAULT_SPECS_DIR
    if not (path / SENDGRID_SPEC).is_file() or not (path / MANDRILL_SPEC).is_file():
        reason = (
            f"provider specs not found in {path}: set {SPECS_ENV} to the provider-specs "
            "directory to check request bodies against the providers' own schemas"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def load_spec(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((specs_dir() / relative).read_text("utf-8"))
    return document


def body_validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in an OpenAPI 3.1 document, $refs resolved."""
    uri = "urn:micromailer:provider-spec"
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    return Draft202012Validator(
        {"$ref": f"{uri}#{pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def without_mandrill_key_quirk(document: dict[str, Any]) -> dict[str, Any]:
    """The Mandrill spec with its one self-contradiction lifted.

    ``MessagesSendRequest`` is ``allOf: [ApiKey, {message, ...}]`` and ``ApiKey`` says
    ``additionalProperties: false``, so under JSON Schema no request that carries a
    ``message`` can validate. We drop that one keyword and keep everything else.
    """
    patched = copy.deepcopy(document)
    patched["components"]["schemas"]["ApiKey"].pop("additionalProperties", None)
    return patched


ErrorT = TypeVar("ErrorT", bound=ProviderError)


def failed_send(adapter: ProviderAdapter, expected: type[ErrorT] = ProviderError) -> ErrorT:  # type: ignore[assignment]
    """The error ``adapter.send`` raises for a plain message; the test fails unless it is one."""
    with pytest.raises(expected) as caught:
        adapter.send(make_message())
    return caught.value


def table_rows(table: Mapping[Any, type[Exception] | None]) -> list[Any]:
    """One ``pytest.param(answer, class)`` per row of a classification table, named by both."""
    return [
        pytest.param(answer, cls, id=f"{answer}-{cls.__name__ if cls else 'accepted'}")
        for answer, cls in sorted(table.items(), key=lambda row: str(row[0]))
    ]


def schema_errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


__all__ = [
    "MANDRILL_BODY_POINTER",
    "MANDRILL_SPEC",
    "SANDBOX_KEYS",
    "SENDGRID_BODY_POINTER",
    "SENDGRID_SPEC",
    "RequestRecorder",
    "body_validator",
    "closed_port_url",
    "failed_send",
    "load_spec",
    "make_message",
    "schema_errors",
    "specs_dir",
    "table_rows",
    "without_mandrill_key_quirk",
]
