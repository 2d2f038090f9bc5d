"""Callbacks end to end: under ``micromailer run`` (sandbox mode), an email sent through the
API makes a signed ``email.sent`` callback arrive at the client's receiver, the delivery log
shows it, and ``GET /metrics`` counts it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from tests.support.metrics import labelled, parse_samples
from tests.support.receiver import CallbackReceiver
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e


def test_sending_an_email_makes_a_signed_sent_callback_arrive(tmp_path: Path) -> None:
    service = EmbeddedService(tmp_path / "var", MICROMAILER_CALLBACK_ALLOW_PRIVATE="true").start()
    try:
        with CallbackReceiver() as receiver:
            registered = service.http.post(f"{service.url}/callbacks",
                                           json={"url": receiver.url, "events": ["sent"]})
            assert registered.status_code == 201, registered.text
            callback = registered.json()

            accepted = service.post_json(to="ada@example.com", subject="Hi", content="Hello")
            assert accepted.status_code == 202, accepted.text
            email_id = accepted.json()["emailId"]
            [arrival] = receiver.wait_for(1, timeout=30)

        event = Webhook(callback["secret"]).verify(arrival.body, arrival.headers)
        assert event["type"] == "email.sent"
        assert event["data"]["emailId"] == email_id
        assert event["data"]["status"] == "sent"
        assert event["data"]["provider"] == service.email(email_id)["provider"]
        [entry] = service.http.get(f"{service.url}/callbacks/{callback['id']}/deliveries").json()
        assert (entry["id"], entry["status"], entry["attempts"]) == (
            arrival.headers["webhook-id"], "delivered", 1)
        assert delivered_tries(service.url) == 1
    finally:
        service.stop()


def delivered_tries(url: str, timeout: float = 10) -> float:
    """The worker's count of delivered callback tries, as ``GET /metrics`` shows it once it
    is there (the worker counts a try just after its outcome's commit)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse_samples(httpx.get(f"{url}/metrics", timeout=10).text)
        count = labelled(samples, "micromailer_callback_deliveries_total").get(
            (("outcome", "delivered"),), 0.0)
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.2)
