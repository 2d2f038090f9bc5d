"""``micromailer run`` end to end: a batch through ``POST /emails`` while every fake fails, its
emails failed after their attempts; one retried by hand once the fakes heal, delivered in a
second cycle with the first cycle's attempts still shown."""

from __future__ import annotations

from tests.support.service import EmbeddedService

PROVIDERS = ("sendgrid", "mandrill")


def test_a_batch_fails_whole_then_a_retry_delivers_one_of_it(service: EmbeddedService) -> None:
    for name in PROVIDERS:
        service.set_faults(name, failRate=1.0, status=503)
    items = [{"to": f"user{n}@example.com", "subject": f"Batch {n}", "content": f"**{n}**"}
             for n in range(2)]

    answer = service.http.post(f"{service.url}/emails",
                               json={"emails": [items[0], {"to": "nobody"}, items[1]]})

    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (2, 1)
    assert body["results"][1]["status"] == 400
    ids = [body["results"][0]["emailId"], body["results"][2]["emailId"]]
    failed = service.wait_final(ids)
    assert {email["status"] for email in failed.values()} == {"failed"}

    for name in PROVIDERS:
        service.set_faults(name)  # healed
    retried = service.http.post(f"{service.url}/email/{ids[0]}/retry")

    assert retried.status_code == 202, retried.text
    assert retried.headers["location"] == f"/email/{ids[0]}"
    sent = service.wait_final([ids[0]])[ids[0]]
    assert (sent["status"], sent["retries"]) == ("sent", 1)
    first_cycle = [a for a in sent["attempts"] if a["cycle"] == 1]
    assert first_cycle == failed[ids[0]]["attempts"]
    assert [(a["cycle"], a["outcome"]) for a in sent["attempts"][len(first_cycle):]] == [
        (2, "sent")]
    subjects = [m["subject"] for name in PROVIDERS for m in service.captured(name)]
    assert subjects == ["Batch 0"]
    assert service.email(ids[1])["status"] == "failed"
