"""A provider that answers after 15 s, under a lease configured far shorter than that: the real
service sizes its lease from the providers' total timeout, so no other claim sends an email
again while its first try waits, and no late answer undoes an outcome."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.support.service import EmbeddedService

EMAILS = 8
PROVIDERS = ("sendgrid", "mandrill")
LATENCY_S = 15


def test_a_provider_answering_after_15_s_sends_each_email_once_and_each_ends_sent(
    tmp_path: Path,
) -> None:
    service = EmbeddedService(
        tmp_path / "var",
        MICROMAILER_CLAIM_TIMEOUT="2",  # what an operator asked: shorter than one answer
        MICROMAILER_PROVIDER_TOTAL_TIMEOUT="20",
        MICROMAILER_SWEEP_AFTER="1",
        MICROMAILER_SWEEP_INTERVAL="0.5",  # the sweeper looks for expired leases all the time
    ).start()
    try:
        for provider in PROVIDERS:
            service.set_faults(provider, latencyMs=LATENCY_S * 1000)
        ids = [
            service.post_json(to=f"slow{n}@example.com", subject=f"slow {n}", content="x")
            .json()["emailId"]
            for n in range(EMAILS)
        ]
        final = service.wait_final(ids, timeout=45)
        # A second send started before the first answer came back would reach the fake up to
        # one latency later: count only once any such send has had the time to land.
        time.sleep(LATENCY_S + 1)
        delivered = Counter(
            message["metadata"]["email_id"]
            for provider in PROVIDERS
            for message in service.captured(provider)
        )
    finally:
        service.stop()

    assert delivered == dict.fromkeys(ids, 1), "an email reached the providers more than once"
    for body in final.values():
        assert body["status"] == "sent", body
        assert body["attemptCount"] == 1, body
        assert [attempt["outcome"] for attempt in body["attempts"]] == ["sent"], body
