"""``POST /email/{id}/retry`` through the real app, on SQLite and on PostgreSQL with RabbitMQ:
a failed email starts a new delivery cycle that a real worker runtime delivers to the sandbox
fakes, its history kept and its attempt budget counted afresh; anything but a failed email is
a 409, another project's a 404, and of many retries at once exactly one starts a cycle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from micromailer.domain.audit import AuditKind
from micromailer.domain.simulator import ReservedRecipient
from micromailer.domain.status import Status
from micromailer.store.retries import CycleStarted, NotFailed, RetryStore
from tests.support.relay import STORES, Key, Relay, concurrently, running_relay

MAX_ATTEMPTS = 2
RECEIPT = {"to": "ada@example.com", "subject": "Receipt", "content": "**Paid**"}


@pytest.fixture(params=STORES)
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Relay]:
    keys = [Key("shop", "shop"), Key("other", "other"), Key("ops", "ops", scope="admin")]
    with running_relay(request.param, tmp_path, keys=keys, max_attempts=MAX_ATTEMPTS) as running:
        yield running


def send(relay: Relay, fields: dict[str, str] = RECEIPT, key: str = "shop") -> str:
    answer = relay.client.post("/email", json=fields, headers=relay.as_key(key))
    assert answer.status_code == 202, answer.text
    email_id: str = answer.json()["emailId"]
    return email_id


def failed_email(relay: Relay) -> str:
    """An email every provider failed until its budget ran out."""
    relay.fail_every_send()
    email_id = send(relay)
    assert [relay.deliver(email_id) for _ in range(MAX_ATTEMPTS)] == [
        Status.QUEUED, Status.FAILED]
    relay.fail_every_send(False)
    return email_id


def retry(relay: Relay, email_id: str, key: str = "shop") -> tuple[int, dict[str, str]]:
    answer = relay.client.post(f"/email/{email_id}/retry", headers=relay.as_key(key))
    return answer.status_code, answer.json()


def cycles(body: dict[str, object]) -> list[tuple[int, int, str]]:
    """Each try's attempt number, cycle and outcome."""
    attempts = body["attempts"]
    assert isinstance(attempts, list)
    return [(a["attempt"], a["cycle"], a["outcome"]) for a in attempts]


def test_a_retried_email_is_delivered_in_a_new_cycle_with_its_history_kept(relay: Relay) -> None:
    email_id = failed_email(relay)
    relay.published()  # the deliver tasks so far

    answer = relay.client.post(f"/email/{email_id}/retry", headers=relay.as_key("shop"))

    assert answer.status_code == 202
    assert answer.json() == {"status": "queued", "emailId": email_id}
    assert answer.headers["location"] == f"/email/{email_id}"
    queued = relay.email(email_id, **relay.as_key("shop"))
    assert (queued["status"], queued["retries"], queued["error"]) == ("queued", 1, None)
    assert cycles(queued) == [(1, 1, "failed"), (2, 1, "failed")]
    assert relay.published() == [email_id]  # queued as a new email is

    assert relay.deliver(email_id) is Status.SENT

    sent = relay.email(email_id, **relay.as_key("shop"))
    assert (sent["status"], sent["provider"], sent["attemptCount"]) == ("sent", "sendgrid", 3)
    assert cycles(sent) == [(1, 1, "failed"), (2, 1, "failed"), (3, 2, "sent")]
    assert relay.count(
        f"SELECT count(*) FROM audit_events WHERE kind = '{AuditKind.EMAIL_RETRIED.value}' "
        f"AND email_id = '{email_id}' AND key_name = 'shop' AND project = 'shop'"
    ) == 1


def test_the_attempt_budget_counts_from_the_new_cycle(relay: Relay) -> None:
    email_id = failed_email(relay)
    relay.fail_every_send()

    assert retry(relay, email_id)[0] == 202
    # Two attempts already made, MAX_ATTEMPTS of 2: the new cycle still gets its own two.
    assert [relay.deliver(email_id) for _ in range(MAX_ATTEMPTS)] == [
        Status.QUEUED, Status.FAILED]

    body = relay.email(email_id, **relay.as_key("shop"))
    assert cycles(body) == [(1, 1, "failed"), (2, 1, "failed"), (3, 2, "failed"),
                            (4, 2, "failed")]
    assert body["error"].startswith("gave up after 2 attempts: attempt 3: ")
    assert "attempt 1:" not in body["error"] and "; attempt 4: " in body["error"]

    relay.fail_every_send(False)
    assert retry(relay, email_id)[0] == 202
    assert relay.deliver(email_id) is Status.SENT
    body = relay.email(email_id, **relay.as_key("shop"))
    assert (body["retries"], cycles(body)[-1]) == (2, (5, 3, "sent"))


def test_a_recipient_refused_for_good_can_be_retried_too(relay: Relay) -> None:
    email_id = send(relay, {**RECEIPT, "to": ReservedRecipient.PERM_FAIL.address})
    assert relay.deliver(email_id) is Status.FAILED

    assert retry(relay, email_id)[0] == 202
    assert relay.deliver(email_id) is Status.FAILED

    body = relay.email(email_id, **relay.as_key("shop"))
    assert [(n, cycle, outcome) for n, cycle, outcome in cycles(body)] == [
        (1, 1, "recipient_rejected"), (2, 2, "recipient_rejected")]


def test_an_email_that_is_not_failed_is_a_409_that_names_its_status(relay: Relay) -> None:
    email_id = send(relay)

    assert retry(relay, email_id) == (409, {
        "status": "failed", "error": "This email is queued; only failed emails can be retried.",
        "details": []})
    assert relay.deliver(email_id) is Status.SENT
    assert retry(relay, email_id)[1]["error"] == (
        "This email is sent; only failed emails can be retried.")

    body = relay.email(email_id, **relay.as_key("shop"))
    assert (body["status"], body["retries"], cycles(body)) == ("sent", 0, [(1, 1, "sent")])


def test_of_many_retries_at_once_exactly_one_starts_a_cycle(relay: Relay) -> None:
    email_id = failed_email(relay)
    relay.published()

    answers = concurrently(relay.client, [("POST", f"/email/{email_id}/retry")] * 8,
                           **relay.as_key("shop"))

    assert sorted(answer.status_code for answer in answers) == [202] + [409] * 7
    assert relay.email(email_id, **relay.as_key("shop"))["retries"] == 1
    assert relay.published() == [email_id]


def test_another_projects_email_is_unknown_and_an_admin_may_retry_it(relay: Relay) -> None:
    email_id = failed_email(relay)

    assert retry(relay, email_id, key="other") == (404, {"status": "notfound",
                                                          "emailId": email_id})
    assert relay.email(email_id, **relay.as_key("shop"))["status"] == "failed"

    assert retry(relay, email_id, key="ops")[0] == 202


def test_an_unknown_id_is_a_404(relay: Relay) -> None:
    assert retry(relay, "0e8c5b5e-3a53-4bd8-8a53-4f3a2ad2c0f1") == (
        404, {"status": "notfound", "emailId": "0e8c5b5e-3a53-4bd8-8a53-4f3a2ad2c0f1"})


def test_the_store_starts_one_cycle_per_failure(relay: Relay) -> None:
    """The conditional update itself: a second retry, however it comes, finds it queued."""
    email_id = failed_email(relay)
    store = RetryStore(relay.engine)

    assert store.start_cycle(email_id, "shop") == CycleStarted(email_id, 2)
    assert store.start_cycle(email_id, "shop") == NotFailed(email_id, Status.QUEUED)
    assert store.start_cycle(email_id, "other") is None
    assert relay.email(email_id, **relay.as_key("shop"))["retries"] == 1
