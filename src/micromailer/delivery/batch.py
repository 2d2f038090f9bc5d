"""A batch's answer (``POST /emails``): one result per item, and the emails tied to its key.

The 207's body is written before the batch is stored, because an ``Idempotency-Key`` keeps it
in the same commit as the emails: the first email completes the key with it, and the others
are stored only if that one completes it (``store/emails.py``), so that a key taken over
meanwhile stores none of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from micromailer.domain.attempt import NewEmail
from micromailer.domain.idempotency import KeptAnswer, Reservation

#: What a batch is answered with, whatever its items came to (docs/api.md says why).
BATCH_STATUS = 207
#: Each item's own status in the results.
ITEM_ACCEPTED = 202
ITEM_REFUSED = 400

#: One item's outcome: the email to store, or the sentence refusing it.
ItemOutcome = NewEmail | str


def batch_body(outcomes: Sequence[ItemOutcome]) -> str:
    """``{"results": [...], "accepted": n, "refused": m}``, compact, as the 207 sends it and
    an ``Idempotency-Key`` keeps it."""
    results: list[dict[str, object]] = [
        {"index": index, "status": ITEM_ACCEPTED, "emailId": outcome.email_id}
        if isinstance(outcome, NewEmail)
        else {"index": index, "status": ITEM_REFUSED, "error": outcome}
        for index, outcome in enumerate(outcomes)
    ]
    accepted = sum(isinstance(outcome, NewEmail) for outcome in outcomes)
    return json.dumps(
        {"results": results, "accepted": accepted, "refused": len(outcomes) - accepted},
        ensure_ascii=False, allow_nan=False, separators=(",", ":"),
    )


def accepted_emails(outcomes: Sequence[ItemOutcome]) -> list[NewEmail]:
    return [outcome for outcome in outcomes if isinstance(outcome, NewEmail)]


def tie_to_key(emails: Sequence[NewEmail], reservation: Reservation, body: str) -> list[NewEmail]:
    """``emails`` stored under ``reservation``: the first completes the key with the batch's
    answer ``body``, the others go with it or not at all."""
    return [
        replace(new, idempotency=KeptAnswer(reservation, BATCH_STATUS, body) if position == 0
                else reservation)
        for position, new in enumerate(emails)
    ]


__all__ = [
    "BATCH_STATUS",
    "ITEM_ACCEPTED",
    "ITEM_REFUSED",
    "ItemOutcome",
    "accepted_emails",
    "batch_body",
    "tie_to_key",
]
