"""End to end: ``micromailer run`` in sandbox mode with every provider it knows (the default
without credentials), rich messages delivered through the real adapters to the real fakes:
recipients in their fields, attachments byte for byte, and failover that skips the providers
unable to carry a message."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from micromailer.config import KNOWN_PROVIDERS
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

REPORT = bytes(range(256)) * 100 + b"end"
LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def every_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    service = EmbeddedService(
        tmp_path_factory.mktemp("rich"), MICROMAILER_PROVIDERS=",".join(KNOWN_PROVIDERS),
        MICROMAILER_SENDER_DOMAINS="example.org",
        # every provider is tried in each attempt, whatever the outages before
        MICROMAILER_STRATEGY="original",
    ).start()
    try:
        yield service
    finally:
        service.stop()


def sent_by(service: EmbeddedService, email_id: str) -> dict[str, object]:
    final = service.wait_final([email_id], timeout=60)[email_id]
    assert final["status"] == "sent", (final["error"], final["attempts"][-3:])
    return final


def test_sandbox_mode_runs_every_known_provider(every_provider: EmbeddedService) -> None:
    assert [provider["name"] for provider in every_provider.providers()] == list(KNOWN_PROVIDERS)


@pytest.mark.parametrize("provider", KNOWN_PROVIDERS)
def test_each_provider_carries_a_rich_message_whole(
    every_provider: EmbeddedService, provider: str
) -> None:
    """Every other provider in outage: the message goes through ``provider`` alone."""
    service = every_provider
    for name in KNOWN_PROVIDERS:
        service.set_faults(name, **({} if name == provider else {"failRate": 1.0}))
    subject = f"rich through {provider}"
    try:
        answer = service.post_json(
            to=["Ada <ada@example.com>", "bob@example.com"], cc="carol@example.com",
            bcc=["dan@example.com"], reply_to="help@example.org",
            **{"from": "Billing <billing@example.org>"}, subject=subject,
            html='<p>Your report <img src="cid:logo"></p>', text="Your report",
            attachments=[
                {"filename": "report.pdf", "contentType": "application/pdf",
                 "content": b64(REPORT)},
                # Brevo's API has no inline images: it could not carry the message at all
                *([] if provider == "brevo" else [
                    {"filename": "logo.png", "contentType": "image/png", "content": b64(LOGO),
                     "contentId": "logo"}]),
            ],
            tags=["report"], metadata={"order": "7"},
        )
        assert answer.status_code == 202, answer.text
        final = sent_by(service, answer.json()["emailId"])
    finally:
        for name in KNOWN_PROVIDERS:
            service.set_faults(name)
    assert final["provider"] == provider
    captured = [item for item in service.captured(provider) if item["subject"] == subject]
    by_address = {item["to"]: item for item in captured}
    assert sorted(by_address) == ["ada@example.com", "bob@example.com", "carol@example.com",
                                  "dan@example.com"]
    assert by_address["carol@example.com"]["field"] == "cc"
    assert by_address["dan@example.com"]["field"] == "bcc"
    message = by_address["ada@example.com"]
    assert message["fromEmail"] == "billing@example.org"
    digests = {(item["contentId"], item["sha256"]) for item in message["attachments"]}
    assert (None, hashlib.sha256(REPORT).hexdigest()) in digests
    if provider != "brevo":
        assert ("logo", hashlib.sha256(LOGO).hexdigest()) in digests


def test_failover_skips_the_providers_that_cannot_carry_the_message(
    every_provider: EmbeddedService,
) -> None:
    """120 recipients and an ``.exe`` file: the providers taking fewer recipients, or
    refusing such files, are never tried."""
    service = every_provider
    recipients = [f"user{n}@example.com" for n in range(120)]
    answer = service.post_json(
        to=recipients, subject="many", text="hello",
        attachments=[{"filename": "tool.exe", "contentType": "application/octet-stream",
                      "content": b64(b"MZ" + bytes(64))}],
    )
    assert answer.status_code == 202, answer.text

    final = sent_by(service, answer.json()["emailId"])

    tried = {attempt["provider"] for attempt in final["attempts"]}
    assert tried <= {"sendgrid", "mandrill", "mailgun", "sparkpost"}
    assert len([item for item in service.captured(str(final["provider"]))
                if item["subject"] == "many"]) == 120


def test_a_message_nobody_configured_can_carry_is_refused_at_post(tmp_path: Path) -> None:
    service = EmbeddedService(tmp_path, MICROMAILER_PROVIDERS="postmark,ses").start()
    try:
        answer = service.post_json(
            to="ada@example.com", subject="tool", text="the tool",
            attachments=[{"filename": "tool.exe", "contentType": "application/octet-stream",
                          "content": b64(b"MZ")}],
        )
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error.startswith("No configured provider can carry this message: postmark ")
        assert "'tool.exe'" in error
        assert service.http.get(f"{service.url}/emails").json() == []
    finally:
        service.stop()
