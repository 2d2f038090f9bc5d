"""A batch's shape and items (``domain/batch.py``) and its answer (``delivery/batch.py``): each
item validated as ``POST /email`` validates one, a batch's fingerprint never a single email's,
and the emails tied to its ``Idempotency-Key`` by the first of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from micromailer.delivery.batch import BATCH_STATUS, batch_body, tie_to_key
from micromailer.domain.batch import (
    MAX_BATCH_ITEMS,
    NOT_A_BATCH,
    BatchRequest,
    InvalidBatch,
    RefusedItem,
    parse_batch,
)
from micromailer.domain.idempotency import KeptAnswer, Reservation, fingerprint
from micromailer.domain.validation import EmailRequest, InvalidEmailRequest, parse_email_request
from tests.support.fakes import make_new_email

GOOD = {"to": "ada@example.com", "subject": "Receipt", "content": "**Paid**"}


def test_each_item_is_validated_on_its_own_with_post_emails_sentence() -> None:
    bad = {"to": "ada@example.com", "subject": "Hi", "content": "x", "from": "a@elsewhere.com"}

    batch = parse_batch({"emails": [GOOD, bad, None, "text"]}, ["example.org"])

    first, second, third, fourth = batch.items
    assert first == parse_email_request(GOOD, ["example.org"])
    with pytest.raises(InvalidEmailRequest) as alone:
        parse_email_request(bad, ["example.org"])
    assert second == RefusedItem(alone.value.message, bad)
    assert isinstance(third, RefusedItem) and third.sentence.endswith("not null.")
    assert isinstance(fourth, RefusedItem) and fourth.sentence.endswith("not a string.")


@pytest.mark.parametrize(("body", "sentence"), [
    ({"emails": [GOOD] * (MAX_BATCH_ITEMS + 1)}, "`emails` holds 501 emails; at most 500 go "
                                                 "in one request. Send the rest in another."),
    ({"emails": []}, "`emails` is empty; send 1 to 500 emails."),
    ({"emails": "x"}, "`emails` must be a list of emails, not a string."),
    ({"mails": [GOOD]}, NOT_A_BATCH),
    ([GOOD], NOT_A_BATCH),
])
def test_a_body_of_another_shape_is_refused_whole(body: object, sentence: str) -> None:
    with pytest.raises(InvalidBatch) as refused:
        parse_batch(body)
    assert str(refused.value) == sentence


def test_exactly_the_most_items_are_taken() -> None:
    assert len(parse_batch({"emails": [GOOD] * MAX_BATCH_ITEMS}).items) == MAX_BATCH_ITEMS


def test_a_batch_fingerprints_its_items_and_never_as_a_single_email() -> None:
    one = parse_batch({"emails": [GOOD]})
    reordered = parse_batch({"emails": [dict(reversed(GOOD.items()))]})
    other = parse_batch({"emails": [{**GOOD, "subject": "Another"}]})
    refused = parse_batch({"emails": [{"to": "x"}]})
    refused_other = parse_batch({"emails": [{"to": "y"}]})

    assert fingerprint(one) == fingerprint(reordered)
    assert len({fingerprint(one), fingerprint(other), fingerprint(refused),
                fingerprint(refused_other), fingerprint(parse_email_request(GOOD))}) == 5
    assert fingerprint(one) != fingerprint(one, test=True)


def test_the_answer_lists_every_item_in_order_with_its_counts() -> None:
    news = [make_new_email(), make_new_email()]

    body: dict[str, Any] = json.loads(batch_body([news[0], "`to` is required.", news[1]]))

    assert body == {
        "results": [
            {"index": 0, "status": 202, "emailId": news[0].email_id},
            {"index": 1, "status": 400, "error": "`to` is required."},
            {"index": 2, "status": 202, "emailId": news[1].email_id},
        ],
        "accepted": 2, "refused": 1,
    }


def test_the_first_email_completes_the_key_and_the_others_follow_it() -> None:
    reservation = Reservation("shop", "orders-9", datetime(2026, 3, 1, tzinfo=UTC))
    news = [make_new_email() for _ in range(3)]

    tied = tie_to_key(news, reservation, '{"results":[]}')

    assert tied[0].idempotency == KeptAnswer(reservation, BATCH_STATUS, '{"results":[]}')
    assert [new.idempotency for new in tied[1:]] == [reservation, reservation]
    assert [new.email_id for new in tied] == [new.email_id for new in news]


def test_a_batch_request_is_only_email_requests_and_refusals() -> None:
    batch = parse_batch({"emails": [GOOD, 1]})
    assert isinstance(batch, BatchRequest)
    assert [type(item) for item in batch.items] == [EmailRequest, RefusedItem]
