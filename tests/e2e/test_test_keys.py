"""A test key against ``micromailer run`` with a live provider credential, over real HTTP.

SendGrid's key is set and its base URL points at a capturing server that stands for the real
SendGrid: no email of the test key may reach it. No ``MICROMAILER_SANDBOX_URL``: the worker
starts the fakes itself. Each reserved recipient gives its outcome, every email shows
``"test": true``, and ``GET /providers`` keeps its scores through the temp-fail retries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from micromailer.domain.simulator import ReservedRecipient
from micromailer.sandbox.simulator import SLOW_SECONDS
from tests.support.capturing import CapturingServer
from tests.support.client import ApiClient
from tests.support.keys import create_key
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

MAX_ATTEMPTS = 3

#: Each reserved recipient's final email body, and ``GET /providers`` from before they were sent.
Outcomes = tuple[dict[ReservedRecipient, dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def real_sendgrid() -> Iterator[CapturingServer]:
    with CapturingServer() as server:
        yield server


@dataclass
class Keys:
    test: str
    live: str


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, real_sendgrid: CapturingServer
) -> Iterator[EmbeddedService]:
    running = EmbeddedService(
        tmp_path_factory.mktemp("test-keys") / "var",
        SENDGRID_API_KEY="SG.live-looking-secret",
        MICROMAILER_PROVIDERS="sendgrid",
        MICROMAILER_SENDGRID_BASE_URL=real_sendgrid.url,
        MICROMAILER_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        MICROMAILER_RETRY_DELAY="0.2",
        # slow@ answers after 5 s: a whole call may take longer than that here
        MICROMAILER_PROVIDER_TOTAL_TIMEOUT="20",
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def keys(service: EmbeddedService) -> Keys:
    """Made before the service starts, with ``micromailer keys create`` on its database."""
    made = Keys(test=create_key(service.env, "ci-test", "--test"),
                live=create_key(service.env, "ci-live"))
    service.start()
    return made


@pytest.fixture(scope="module")
def as_test_key(service: EmbeddedService, keys: Keys) -> ApiClient:
    return service.as_key(keys.test)


@pytest.fixture(scope="module")
def outcomes(as_test_key: ApiClient) -> Outcomes:
    """Every reserved recipient sent once with the test key, all at once."""
    providers_before = as_test_key.providers()
    sent: dict[ReservedRecipient, str] = {}
    for recipient in ReservedRecipient:
        response = as_test_key.post_json(to=recipient.address, subject=recipient, content="hi")
        assert response.status_code == 202, response.text
        sent[recipient] = response.json()["emailId"]
    final = as_test_key.wait_final(sent.values(), timeout=120)
    return {recipient: final[email_id] for recipient, email_id in sent.items()}, providers_before


def seconds(attempt: dict[str, Any]) -> float:
    took = datetime.fromisoformat(attempt["finishedAt"]) - datetime.fromisoformat(
        attempt["startedAt"])
    return took.total_seconds()


def test_delivered_is_sent_and_marked_test(outcomes: Outcomes) -> None:
    email = outcomes[0][ReservedRecipient.DELIVERED]

    assert (email["status"], email["provider"], email["test"]) == ("sent", "sendgrid", True)
    assert email["providerMessageId"] != "captured"  # the fake's id, not the capturing server's


def test_temp_fail_is_retried_then_failed(outcomes: Outcomes) -> None:
    email = outcomes[0][ReservedRecipient.TEMP_FAIL]

    assert (email["status"], email["attemptCount"], email["test"]) == ("failed", MAX_ATTEMPTS, True)
    assert [(a["outcome"], a["statusCode"]) for a in email["attempts"]] == [
        ("failed", 503)
    ] * MAX_ATTEMPTS


def test_perm_fail_is_failed_at_once(outcomes: Outcomes) -> None:
    email = outcomes[0][ReservedRecipient.PERM_FAIL]

    assert (email["status"], email["attemptCount"], email["test"]) == ("failed", 1, True)
    assert [a["outcome"] for a in email["attempts"]] == ["recipient_rejected"]


def test_slow_is_sent_after_five_seconds(outcomes: Outcomes) -> None:
    email = outcomes[0][ReservedRecipient.SLOW]

    assert (email["status"], email["attemptCount"], email["test"]) == ("sent", 1, True)
    assert seconds(email["attempts"][0]) >= SLOW_SECONDS


def test_the_real_provider_heard_nothing_and_its_score_did_not_move(
    outcomes: Outcomes, real_sendgrid: CapturingServer, as_test_key: ApiClient
) -> None:
    _, providers_before = outcomes

    assert real_sendgrid.received() == []
    assert [provider["name"] for provider in providers_before] == ["sendgrid"]
    assert as_test_key.providers() == providers_before


def test_the_status_command_shows_the_test_flag(
    outcomes: Outcomes, service: EmbeddedService
) -> None:
    email_id = outcomes[0][ReservedRecipient.DELIVERED]["emailId"]

    done = subprocess.run(
        [sys.executable, "-m", "micromailer", "status", email_id],
        env=service.env, capture_output=True, text=True, timeout=60, check=True,
    )

    assert json.loads(done.stdout)["test"] is True


def test_the_worker_started_the_fakes_itself_and_no_sandbox_mode(
    outcomes: Outcomes, service: EmbeddedService
) -> None:
    log = service.managed.log_path.read_text(errors="replace")

    assert "started the sandbox fakes for test emails at http://127.0.0.1:" in log
    assert "SANDBOX MODE" not in log


def test_a_live_key_still_reaches_the_real_provider(
    outcomes: Outcomes, service: EmbeddedService, keys: Keys, real_sendgrid: CapturingServer
) -> None:
    """The counter-proof, last: the capturing server is wired and hears live emails."""
    live = service.as_key(keys.live)
    response = live.post_json(to="jane@example.com", subject="live", content="hi")
    assert response.status_code == 202, response.text

    email = live.wait_final([response.json()["emailId"]])[response.json()["emailId"]]

    assert (email["status"], email["test"], email["providerMessageId"]) == (
        "sent", False, "captured"
    )
    assert [(r.method, r.path) for r in real_sendgrid.received()] == [("POST", "/v3/mail/send")]

