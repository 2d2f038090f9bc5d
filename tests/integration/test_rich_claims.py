"""A rich email's round trip through the store, on SQLite and PostgreSQL: what the intake
stores is what a worker's claim hands to the providers, attachments byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from micromailer.delivery.intake import Sender, message_of, new_email
from micromailer.domain.message import Address, Attachment
from micromailer.domain.rendering import RenderedContent
from micromailer.domain.validation import parse_email_request
from micromailer.store.models import AttachmentRow
from tests.support.fakes import FakeClock, Stores, stores_in

LEASE = 60.0
FILE = bytes(range(256)) * 64
IMAGE = b"\x89PNG" + bytes(1000)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with stores_in(request.param, tmp_path, FakeClock()) as stores:
        yield stores


def rich_request() -> object:
    import base64

    return parse_email_request({
        "to": ["Ada <ada@example.com>", "bob@example.com"], "cc": "carol@example.com",
        "bcc": "dan@example.com", "reply_to": "help@example.org", "subject": "Files",
        "html": '<p>hi <img src="cid:logo"></p>', "text": "hi",
        "attachments": [
            {"filename": "data.bin", "contentType": "application/octet-stream",
             "content": base64.b64encode(FILE).decode()},
            {"filename": "logo.png", "contentType": "image/png",
             "content": base64.b64encode(IMAGE).decode(), "contentId": "logo"},
        ],
        "headers": {"X-Campaign": "spring"}, "tags": ["receipt"], "metadata": {"order": "7"},
    })


def test_the_claimed_message_is_the_stored_one(store: Stores) -> None:
    request = rich_request()
    new = new_email(request, Sender("no-reply@example.org", "Shop"),  # type: ignore[arg-type]
                    RenderedContent('<p>hi <img src="cid:logo"></p>', "hi"))
    store.emails.add_email(new)

    claim = store.claims.claim(new.email_id, LEASE)

    assert claim is not None
    message = claim.message
    assert message == message_of(new)
    assert message.to == (Address("ada@example.com", "Ada"), Address("bob@example.com"))
    assert message.cc == (Address("carol@example.com"),)
    assert message.bcc == (Address("dan@example.com"),)
    assert message.reply_to == (Address("help@example.org"),)
    assert message.sender == Address("no-reply@example.org", "Shop")
    assert message.attachments == (
        Attachment("data.bin", "application/octet-stream", FILE),
        Attachment("logo.png", "image/png", IMAGE, "logo"),
    )
    assert message.headers == (("X-Campaign", "spring"),)
    assert message.tags == ("receipt",) and message.metadata == (("order", "7"),)


def test_attachments_are_stored_once_whatever_the_attempts(store: Stores) -> None:
    new = new_email(rich_request(), Sender("no-reply@example.org", "Shop"),  # type: ignore[arg-type]
                    RenderedContent("<p>hi</p>", "hi"))
    store.emails.add_email(new)
    for _ in range(3):
        claim = store.claims.claim(new.email_id, LEASE)
        assert claim is not None and len(claim.message.attachments) == 2
        store.claims.record([store.claims.retry_record(new.email_id, claim.attempt_number, [],
                                                       "try again", 0.0)])

    with store.engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(AttachmentRow))
    assert count == 2


def test_a_group_with_and_without_attachments_is_stored_together(store: Stores) -> None:
    sender = Sender("no-reply@example.org", "Shop")
    plain = new_email(parse_email_request({"to": "ada@example.com", "subject": "s",
                                           "content": "c"}),
                      sender, RenderedContent("<p>c</p>", "c"))
    rich = new_email(rich_request(), sender, RenderedContent("<p>hi</p>", "hi"))  # type: ignore[arg-type]

    stored = store.emails.add_emails([plain, rich])

    assert stored.lost == frozenset()
    claims = store.claims.claim_many([plain.email_id, rich.email_id], LEASE)
    assert claims[plain.email_id].message.attachments == ()
    assert len(claims[rich.email_id].message.attachments) == 2
