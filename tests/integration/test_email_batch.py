"""``POST /emails`` through the real app, on SQLite and on PostgreSQL with RabbitMQ: each item is
taken as ``POST /email`` takes one (the same sentences, compared request for request), the
accepted ones stored in one commit, published and delivered by a real worker runtime; a body
that is not a batch is a 400; an ``Idempotency-Key`` replays the whole answer; the rate limit,
the body limit, test keys and the audit log apply as to ``POST /email``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from micromailer.api.intake.batch import JSON_ONLY
from micromailer.api.intake.idempotency import KEY_REUSED
from micromailer.domain.audit import AuditKind
from micromailer.domain.batch import MAX_BATCH_ITEMS, NOT_A_BATCH
from micromailer.domain.status import Status
from tests.support.relay import STORES, Key, Relay, captured_subjects, running_relay

MAX_RECIPIENTS = 3


def email(n: int, **fields: Any) -> dict[str, Any]:
    return {"to": f"user{n}@example.com", "subject": f"Receipt {n}", "content": f"**{n}**",
            **fields}


#: Items ``POST /email`` refuses, each for another reason: a field's rule, a `from` outside
#: the sender domains, too many recipients for the deployment (the carriage check), and no
#: object at all.
BAD_ITEMS: list[Any] = [
    {"to": "not-an-address", "subject": "Hi", "content": "x"},
    {"to": "ada@example.com", "subject": "Hi", "content": "x", "from": "boss@elsewhere.com"},
    {"to": [f"r{n}@example.com" for n in range(MAX_RECIPIENTS + 1)], "subject": "Hi",
     "content": "x"},
    {"to": "ada@example.com", "subject": "Invoice \u202egpj.exe", "content": "x"},
]


@pytest.fixture(params=STORES)
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Relay]:
    keys = [Key("shop", "shop")]
    with running_relay(request.param, tmp_path, keys=keys,
                       max_recipients=MAX_RECIPIENTS) as running:
        yield running


def post_batch(relay: Relay, items: list[Any], key: str = "shop",
               **headers: str) -> dict[str, Any]:
    answer = relay.client.post("/emails", json={"emails": items},
                               headers={**relay.as_key(key), **headers})
    assert answer.status_code == 207, answer.text
    assert "location" not in answer.headers
    body: dict[str, Any] = answer.json()
    return body


def stored(relay: Relay) -> int:
    return relay.count("SELECT count(*) FROM emails")


def test_every_good_item_is_stored_published_and_delivered(relay: Relay) -> None:
    body = post_batch(relay, [email(n) for n in range(3)])

    assert (body["accepted"], body["refused"]) == (3, 0)
    assert [(r["index"], r["status"]) for r in body["results"]] == [(0, 202), (1, 202), (2, 202)]
    ids = [r["emailId"] for r in body["results"]]
    assert len(set(ids)) == 3
    assert relay.published() == ids
    assert [relay.email(i, **relay.as_key("shop"))["status"] for i in ids] == ["queued"] * 3
    assert relay.count(
        f"SELECT count(*) FROM audit_events WHERE kind = '{AuditKind.EMAIL_ACCEPTED.value}' "
        "AND key_name = 'shop' AND project = 'shop'"
    ) == 3

    assert [relay.deliver(i) for i in ids] == [Status.SENT] * 3
    assert captured_subjects(relay) == ["Receipt 0", "Receipt 1", "Receipt 2"]


def test_each_bad_item_gets_the_sentence_post_email_gives_and_the_good_ones_go(
    relay: Relay,
) -> None:
    items = [email(0), *BAD_ITEMS, 7, email(1)]

    body = post_batch(relay, items)

    assert (body["accepted"], body["refused"]) == (2, len(BAD_ITEMS) + 1)
    results = body["results"]
    assert [r["status"] for r in results] == [202, *[400] * (len(BAD_ITEMS) + 1), 202]
    assert [r["index"] for r in results] == list(range(len(items)))
    for index, item in enumerate(BAD_ITEMS, start=1):
        alone = relay.client.post("/email", json=item, headers=relay.as_key("shop"))
        assert alone.status_code == 400
        assert results[index] == {"index": index, "status": 400,
                                  "error": alone.json()["error"]}
    assert results[len(BAD_ITEMS) + 1]["error"] == (
        "Each email must be an object with `to`, `subject` and `content`, as POST /email "
        "takes, not a number.")
    good = [results[0]["emailId"], results[-1]["emailId"]]
    assert stored(relay) == 2
    assert relay.published() == good
    assert [relay.deliver(i) for i in good] == [Status.SENT] * 2
    assert captured_subjects(relay) == ["Receipt 0", "Receipt 1"]


def test_a_suppressed_recipient_is_refused_in_its_item_alone(relay: Relay) -> None:
    added = relay.client.post("/suppressions", json={"addresses": ["carol@example.com"]},
                              headers=relay.as_key("shop"))
    assert added.status_code == 201
    suppressed = email(1, to="carol@example.com")
    alone = relay.client.post("/email", json=suppressed, headers=relay.as_key("shop"))
    assert alone.status_code == 400

    body = post_batch(relay, [email(0), suppressed, {**suppressed, "ignore_suppressions": True}])

    assert [r["status"] for r in body["results"]] == [202, 400, 202]
    assert body["results"][1]["error"] == alone.json()["error"]
    assert stored(relay) == 2


def test_every_item_refused_is_a_207_that_stores_nothing(relay: Relay) -> None:
    body = post_batch(relay, BAD_ITEMS)

    assert (body["accepted"], body["refused"]) == (0, len(BAD_ITEMS))
    assert {r["status"] for r in body["results"]} == {400}
    assert stored(relay) == 0
    assert relay.published() == []


@pytest.mark.parametrize(("payload", "sentence"), [
    ({"emails": [email(0)] * (MAX_BATCH_ITEMS + 1)},
     f"`emails` holds {MAX_BATCH_ITEMS + 1} emails; at most {MAX_BATCH_ITEMS} go in one "
     "request. Send the rest in another."),
    ({"emails": []}, f"`emails` is empty; send 1 to {MAX_BATCH_ITEMS} emails."),
    ({"emails": {"to": "ada@example.com"}}, "`emails` must be a list of emails, not an object."),
    ([email(0)], NOT_A_BATCH),
    (email(0), NOT_A_BATCH),
])
def test_a_body_that_is_not_a_batch_is_a_400_and_stores_nothing(
    relay: Relay, payload: Any, sentence: str,
) -> None:
    answer = relay.client.post("/emails", json=payload, headers=relay.as_key("shop"))

    assert answer.status_code == 400
    assert answer.json() == {"status": "failed", "error": sentence, "details": []}
    assert stored(relay) == 0


def test_a_batch_is_json_only(relay: Relay) -> None:
    answer = relay.client.post("/emails", data={"emails": "x"}, headers=relay.as_key("shop"))

    assert answer.status_code == 415
    assert answer.json()["error"] == JSON_ONLY


def test_an_idempotency_key_replays_the_whole_answer_and_stores_nothing_new(
    relay: Relay,
) -> None:
    items = [email(0), BAD_ITEMS[0], email(1)]
    first = relay.client.post("/emails", json={"emails": items},
                              headers={**relay.as_key("shop"), "Idempotency-Key": "orders-9"})
    # The same fields in another order and spacing: the same request.
    again = relay.client.post(
        "/emails", content=json.dumps({"emails": [dict(reversed(i.items())) for i in items]},
                                      indent=2),
        headers={**relay.as_key("shop"), "Idempotency-Key": "orders-9",
                 "Content-Type": "application/json"},
    )

    assert first.status_code == again.status_code == 207
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "location" not in again.headers
    assert stored(relay) == 2
    assert relay.count(
        f"SELECT count(*) FROM audit_events WHERE kind = '{AuditKind.EMAIL_ACCEPTED.value}' "
        "AND idempotency_key = 'orders-9'"
    ) == 2

    other = relay.client.post("/emails", json={"emails": [email(2)]},
                              headers={**relay.as_key("shop"), "Idempotency-Key": "orders-9"})
    assert (other.status_code, other.json()["error"]) == (409, KEY_REUSED)
    single = relay.client.post("/email", json=email(0),
                               headers={**relay.as_key("shop"), "Idempotency-Key": "orders-9"})
    assert (single.status_code, single.json()["error"]) == (409, KEY_REUSED)
    assert stored(relay) == 2


def test_a_batch_refused_whole_frees_its_key_for_the_corrected_batch(relay: Relay) -> None:
    keyed = {"Idempotency-Key": "orders-10"}
    assert post_batch(relay, BAD_ITEMS[:2], **keyed)["accepted"] == 0

    corrected = post_batch(relay, [email(0), email(1)], **keyed)

    assert corrected["accepted"] == 2
    assert stored(relay) == 2


def test_the_body_limit_bounds_the_whole_batch(tmp_path: Path) -> None:
    with running_relay("sqlite", tmp_path, max_body_bytes=8 * 1024) as relay:
        items = [email(n, content="x" * 1024) for n in range(10)]
        answer = relay.client.post("/emails", json={"emails": items})

        assert answer.status_code == 413
        assert relay.count("SELECT count(*) FROM emails") == 0


def test_each_accepted_email_counts_against_the_rate_limit(tmp_path: Path) -> None:
    keys = [Key("shop", "shop")]
    with running_relay("sqlite", tmp_path, keys=keys, rate_limit="5/minute") as relay:
        assert post_batch(relay, [email(n) for n in range(3)])["accepted"] == 3

        over = relay.client.post("/emails", json={"emails": [email(n) for n in range(3, 6)]},
                                 headers=relay.as_key("shop"))

        assert over.status_code == 429
        assert over.json()["error"] == (
            "This batch's 3 emails would go over the API key's rate limit; nothing was stored. "
            "Wait as `Retry-After` says, or send fewer emails per request.")
        assert int(over.headers["retry-after"]) > 0
        assert relay.count("SELECT count(*) FROM emails") == 3


def test_a_test_keys_batch_is_test_emails(tmp_path: Path) -> None:
    with running_relay("sqlite", tmp_path, keys=[Key("ci", "shop", test=True)]) as relay:
        body = post_batch(relay, [email(0), email(1)], key="ci")

        for result in body["results"]:
            assert relay.email(result["emailId"], **relay.as_key("ci"))["test"] is True
            assert relay.deliver(result["emailId"]) is Status.SENT
