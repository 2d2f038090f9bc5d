"""A batch of emails (``POST /emails``): its shape, and each item validated on its own.

The body is ``{"emails": [...]}``, 1 to :data:`MAX_BATCH_ITEMS` items, each what ``POST
/email`` takes as JSON and validated by the same :func:`parse_email_request`. A body of
another shape is refused whole (:class:`InvalidBatch`); an item that is not a valid email is
refused alone (:class:`RefusedItem`), its sentence answered at its index.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from micromailer.domain.field_rules import kind
from micromailer.domain.validation import EmailRequest, InvalidEmailRequest, parse_email_request

#: Most emails in one batch.
MAX_BATCH_ITEMS = 500

NOT_A_BATCH = (
    f"The body must be a JSON object with an `emails` list of 1 to {MAX_BATCH_ITEMS} emails, "
    "each an object as POST /email takes."
)


class InvalidBatch(Exception):
    """The body is not a batch at all: no item was looked at. ``str(error)`` says why."""


@dataclass(frozen=True, slots=True)
class RefusedItem:
    """An item that cannot become an email: the sentence saying why, and the item as sent."""

    sentence: str
    raw: object


#: One item of a batch, validated or refused.
BatchItem = EmailRequest | RefusedItem


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A batch's items, in order."""

    items: tuple[BatchItem, ...]

    def canonical(self) -> dict[str, Any]:
        """What an ``Idempotency-Key`` fingerprints: each valid item in its canonical form,
        each refused one as sent."""
        return {"batch": [
            item.canonical() if isinstance(item, EmailRequest) else {"refused": item.raw}
            for item in self.items
        ]}


def parse_batch(data: object, sender_domains: Collection[str] | None = None) -> BatchRequest:
    """The batch in a decoded JSON body; raises :class:`InvalidBatch` when it is not one."""
    if not isinstance(data, Mapping) or "emails" not in data:
        raise InvalidBatch(NOT_A_BATCH)
    emails = data["emails"]
    if not isinstance(emails, list):
        raise InvalidBatch(f"`emails` must be a list of emails, not {_kind(emails)}.")
    if not emails:
        raise InvalidBatch(f"`emails` is empty; send 1 to {MAX_BATCH_ITEMS} emails.")
    if len(emails) > MAX_BATCH_ITEMS:
        raise InvalidBatch(
            f"`emails` holds {len(emails):,} emails; at most {MAX_BATCH_ITEMS} go in one "
            "request. Send the rest in another."
        )
    return BatchRequest(tuple(_item(raw, sender_domains) for raw in emails))


def _item(raw: object, sender_domains: Collection[str] | None) -> BatchItem:
    if not isinstance(raw, Mapping):
        return RefusedItem(
            f"Each email must be an object with `to`, `subject` and `content`, as POST /email "
            f"takes, not {_kind(raw)}.", raw,
        )
    try:
        return parse_email_request(raw, sender_domains)
    except InvalidEmailRequest as exc:
        return RefusedItem(exc.message, raw)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return "a string" if isinstance(value, str) else kind(value)


__all__ = [
    "MAX_BATCH_ITEMS",
    "NOT_A_BATCH",
    "BatchItem",
    "BatchRequest",
    "InvalidBatch",
    "RefusedItem",
    "parse_batch",
]
