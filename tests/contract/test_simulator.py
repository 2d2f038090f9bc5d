"""Every fake honours the simulator's reserved recipients, over real HTTP, read by its adapter.

Parametrised over every fake of the sandbox (``sandbox.app.PROVIDERS``) with its adapter from
the registry, so a fake added later is held to the same rule. Each answer is the provider's
own: the adapter that reads it classifies it as the recipient's outcome requires.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from micromailer.domain.simulator import SIMULATOR_DOMAIN, ReservedRecipient
from micromailer.providers.base import ProviderAdapter
from micromailer.providers.errors import AuthError, RecipientRejectedError, ServerError
from micromailer.providers.registry import ADAPTERS
from micromailer.providers.sendgrid import build_payload as sendgrid_payload
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.app import PROVIDERS
from micromailer.sandbox.simulator import SLOW_SECONDS
from tests.contract.helpers import SANDBOX_KEYS
from tests.support.fakes import make_message

FAKES = sorted(PROVIDERS)


@pytest.fixture
def slow_client() -> Iterator[httpx.Client]:
    """A client that waits out ``slow@`` (the suite's own client times out at 2 s)."""
    with httpx.Client(timeout=SLOW_SECONDS + 10, trust_env=False) as client:
        yield client


def adapter(name: str, sandbox: SandboxThread, client: httpx.Client) -> ProviderAdapter:
    return ADAPTERS[name](
        api_key=SANDBOX_KEYS.get(name, "any-key"), base_url=sandbox.url, client=client
    )


def stats(control: httpx.Client, name: str) -> dict[str, int]:
    body: dict[str, int] = control.get(f"/_sandbox/{name}/stats").json()
    return body


def captured_recipients(control: httpx.Client, name: str) -> list[str]:
    return [message["to"] for message in control.get(f"/_sandbox/{name}/messages").json()]


@pytest.mark.parametrize("name", FAKES)
def test_delivered_is_accepted_and_captured(
    name: str, sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    to = ReservedRecipient.DELIVERED.address

    result = adapter(name, sandbox, http_client).send(make_message(to_email=to))

    assert result.message_id
    assert captured_recipients(control, name) == [to]
    assert stats(control, name) == {"accepted": 1, "rejected": 0}


@pytest.mark.parametrize("name", FAKES)
def test_temp_fail_is_the_providers_own_503_read_as_a_server_error(
    name: str, sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    fake = adapter(name, sandbox, http_client)

    with pytest.raises(ServerError) as caught:
        fake.send(make_message(to_email=ReservedRecipient.TEMP_FAIL.address))

    assert caught.value.status_code == (None if name == "smtp" else 503)  # SMTP: no HTTP status
    assert caught.value.transient
    assert captured_recipients(control, name) == []
    assert stats(control, name) == {"accepted": 0, "rejected": 1}


@pytest.mark.parametrize("name", FAKES)
def test_perm_fail_is_the_providers_refusal_of_a_recipient(
    name: str, sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    fake = adapter(name, sandbox, http_client)

    with pytest.raises(RecipientRejectedError) as caught:
        fake.send(make_message(to_email=ReservedRecipient.PERM_FAIL.address))

    assert not caught.value.transient
    assert captured_recipients(control, name) == []
    assert stats(control, name) == {"accepted": 0, "rejected": 1}


@pytest.mark.parametrize("name", FAKES)
def test_slow_is_answered_after_five_seconds_then_accepted(
    name: str, sandbox: SandboxThread, slow_client: httpx.Client, control: httpx.Client
) -> None:
    to = ReservedRecipient.SLOW.address
    started = time.monotonic()

    result = adapter(name, sandbox, slow_client).send(make_message(to_email=to))

    assert time.monotonic() - started >= SLOW_SECONDS
    assert result.message_id
    assert captured_recipients(control, name) == [to]


@pytest.mark.parametrize("name", FAKES)
def test_the_reserved_addresses_are_read_without_case_and_others_at_the_domain_pass(
    name: str, sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    fake = adapter(name, sandbox, http_client)
    other = f"someone@{SIMULATOR_DOMAIN}"

    with pytest.raises(RecipientRejectedError):
        fake.send(make_message(to_email="Perm-Fail@Simulator.Micromailer.TEST"))
    fake.send(make_message(to_email=other))

    assert captured_recipients(control, name) == [other]


# -- the wire answers themselves --------------------------------------------------------------


def test_sendgrid_refuses_only_the_perm_fail_recipient_by_its_field(
    sandbox: SandboxThread, control: httpx.Client
) -> None:
    body = sendgrid_payload(make_message(to_email=ReservedRecipient.DELIVERED.address))
    body["personalizations"][0]["to"].append({"email": ReservedRecipient.PERM_FAIL.address})

    response = httpx.post(
        f"{sandbox.url}/v3/mail/send", json=body,
        headers={"Authorization": f"Bearer {SANDBOX_KEYS['sendgrid']}"},
    )

    assert response.status_code == 400
    assert [(e["message"], e["field"]) for e in response.json()["errors"]] == [
        ("Does not contain a valid address.", "personalizations.0.to.1.email")
    ]
    assert captured_recipients(control, "sendgrid") == []


def test_sendgrid_temp_fail_is_sendgrids_error_body() -> None:
    with SandboxThread() as sandbox:
        body = sendgrid_payload(make_message(to_email=ReservedRecipient.TEMP_FAIL.address))
        response = httpx.post(f"{sandbox.url}/v3/mail/send", json=body,
                              headers={"Authorization": "Bearer k"})

    assert response.status_code == 503
    assert response.json() == {
        "errors": [{"message": "service unavailable", "field": None, "help": None}]
    }


def test_mandrill_rejects_perm_fail_as_a_hard_bounce_and_sends_to_the_others(
    sandbox: SandboxThread, control: httpx.Client
) -> None:
    message = {
        "subject": "s", "text": "t", "from_email": "a@example.org",
        "to": [{"email": ReservedRecipient.DELIVERED.address},
               {"email": ReservedRecipient.PERM_FAIL.address}],
    }

    response = httpx.post(
        f"{sandbox.url}/api/1.0/messages/send.json",
        json={"key": SANDBOX_KEYS["mandrill"], "message": message},
    )

    assert response.status_code == 200
    assert [(r["email"], r["status"], r["reject_reason"]) for r in response.json()] == [
        (ReservedRecipient.DELIVERED.address, "sent", None),
        (ReservedRecipient.PERM_FAIL.address, "rejected", "hard-bounce"),
    ]
    assert captured_recipients(control, "mandrill") == [ReservedRecipient.DELIVERED.address]


def test_mandrill_temp_fail_is_mandrills_error_body(
    sandbox: SandboxThread, control: httpx.Client
) -> None:
    message = {"subject": "s", "text": "t", "from_email": "a@example.org",
               "to": [{"email": ReservedRecipient.TEMP_FAIL.address}]}

    response = httpx.post(
        f"{sandbox.url}/api/1.0/messages/send.json",
        json={"key": SANDBOX_KEYS["mandrill"], "message": message},
    )

    assert response.status_code == 503
    assert response.json() == {
        "status": "error", "code": -2, "name": "ServiceUnavailable",
        "message": "Service Temporarily Unavailable",
    }


@pytest.mark.parametrize("name", FAKES)
def test_a_wrong_key_is_refused_before_any_reserved_recipient_is_honoured(
    name: str, sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    """``slow@`` with a wrong key: the 401 comes at once (the client gives up after 2 s)."""
    fake = ADAPTERS[name](api_key="wrong", base_url=sandbox.url, client=http_client)

    with pytest.raises(AuthError) as caught:
        fake.send(make_message(to_email=ReservedRecipient.SLOW.address))

    # AWS answers a bad signature with 403 (SES); SMTP has no HTTP status; the others 401.
    assert caught.value.status_code == {"ses": 403, "smtp": None}.get(name, 401)
