"""``POST /emails``: up to 500 emails in one JSON request, each taken as ``POST /email`` takes one.

    headers ──▶ head.read_head          413 declared too long; 415 not JSON, or compressed
    body    ──▶ body.read_body          413 over MICROMAILER_MAX_BODY_BYTES (the whole batch)
            ──▶ Services.intake_checks  as for POST /email
            ──▶ domain/batch.py         in a parse thread: not a batch → 400; each item
                                        validated by parse_email_request, or refused alone
            ──▶ idempotency.py          the whole batch's answer replayed, or 409
            ──▶ Services.intake.admit   render and check each item, as for POST /email (400)
            ──▶ rate limit              each accepted email beyond the first counts one (429)
            ──▶ Services.intake         the accepted emails in one commit, then published → 207

The answer is 207 whatever the items came to, with one result per item; a batch none of whose
items is accepted stores nothing and keeps no ``Idempotency-Key`` answer, as a refused ``POST
/email`` (docs/api.md says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from micromailer.api.intake.answer import Answer, IntakeRefused, send_json, send_replay
from micromailer.api.intake.body import read_body
from micromailer.api.intake.head import BodyEncoding, read_head
from micromailer.api.intake.idempotency import KEY_TAKEN_OVER, requested_key
from micromailer.api.intake.json_fields import decode_json_value
from micromailer.api.intake.steps import (
    client_of,
    off_the_loop,
    run_checks,
    services_of,
    store_call,
    submission_of,
)
from micromailer.delivery.batch import (
    BATCH_STATUS,
    ItemOutcome,
    accepted_emails,
    batch_body,
    tie_to_key,
)
from micromailer.delivery.intake import Submission
from micromailer.domain.batch import BatchRequest, InvalidBatch, parse_batch
from micromailer.domain.idempotency import Replay, Reservation, ReservationLost
from micromailer.domain.validation import EmailRequest
from micromailer.security.principal import principal_of

if TYPE_CHECKING:  # api.deps imports this package's checks
    from micromailer.api.deps import Services

BATCH_PATH = "/emails"

JSON_ONLY = (
    "POST /emails takes a JSON body only (`Content-Type: application/json`): "
    '{"emails": [...]}, each email as POST /email takes it in JSON.'
)
OVER_RATE = (
    "This batch's {count} emails would go over the API key's rate limit; nothing was stored. "
    "Wait as `Retry-After` says, or send fewer emails per request."
)


async def take_batch(scope: Scope, receive: Receive, max_bytes: int) -> Answer:
    """The 207 of a batch (or its ``Idempotency-Key``'s first answer), or the refusal of the
    first step that refuses the whole of it."""
    head = read_head(scope, max_bytes)
    if head.encoding is not BodyEncoding.JSON:
        raise IntakeRefused(415, JSON_ONLY)
    body = await read_body(receive, max_bytes)
    services = services_of(scope)
    headers = Headers(scope=scope)
    await run_checks(services, scope, headers, body)
    batch = await off_the_loop(_parse, body, services.settings.sender_domain_list())
    key = requested_key(headers)
    submission = submission_of(scope, key)
    if key is None:
        return (await _accept(scope, services, batch, submission, None)).answer
    claim = await store_call(
        services.idempotency.claim(submission.project, key, batch, test=submission.test)
    )
    if isinstance(claim, Replay):
        return partial(_send_replay, replay=claim)
    try:
        taken = await _accept(scope, services, batch, submission, claim)
    except ReservationLost:
        raise IntakeRefused(409, KEY_TAKEN_OVER) from None
    except Exception:  # refused or failed: a corrected request may use the key
        await services.idempotency.release(claim)
        raise
    if not taken.stored:  # nothing stored keeps no answer, as a refused POST /email
        await services.idempotency.release(claim)
    return taken.answer


@dataclass(frozen=True, slots=True)
class _Taken:
    """What a batch came to: whether any email was stored, the 207's body, and the key's
    budget once its emails were counted."""

    stored: bool
    body: str
    rate_headers: dict[str, str] = field(default_factory=dict)

    @property
    def answer(self) -> Answer:
        headers = [(name.lower().encode(), value.encode())
                   for name, value in self.rate_headers.items()]
        return partial(send_json, status=BATCH_STATUS, body=self.body.encode(), headers=headers)


async def _accept(
    scope: Scope, services: Services, batch: BatchRequest, submission: Submission,
    reservation: Reservation | None,
) -> _Taken:
    """Admit every valid item, count the accepted ones, store them in one commit."""
    requests = [item for item in batch.items if isinstance(item, EmailRequest)]
    admitted = iter(await services.intake.admit(requests, submission))
    outcomes: list[ItemOutcome] = [
        next(admitted) if isinstance(item, EmailRequest) else item.sentence
        for item in batch.items
    ]
    body = batch_body(outcomes)
    emails = accepted_emails(outcomes)
    if not emails:
        return _Taken(False, body)
    rate_headers = await _count(scope, services, len(emails))
    if reservation is not None:
        emails = tie_to_key(emails, reservation, body)
    await store_call(services.intake.store_group(emails))
    return _Taken(True, body, rate_headers)


async def _count(scope: Scope, services: Services, accepted: int) -> dict[str, str]:
    """Each accepted email beyond the first against the key's rate limit (the gate counted
    the request as one): the budget's headers, or a 429 when that goes over it."""
    if accepted <= 1:
        return {}
    verdict = await services.rate_limiter.hit(principal_of(scope), client_of(scope),
                                              cost=accepted - 1)
    if verdict is None:
        return {}
    if not verdict.allowed:
        raise IntakeRefused(429, OVER_RATE.format(count=accepted), headers=verdict.headers)
    return verdict.headers


def _parse(body: bytes, sender_domains: list[str]) -> BatchRequest:
    """The batch, each item validated or refused; a 400 when the body is not a batch."""
    try:
        return parse_batch(decode_json_value(body), sender_domains)
    except InvalidBatch as exc:
        raise IntakeRefused(400, str(exc)) from None


async def _send_replay(send: Send, replay: Replay) -> None:
    """The batch's first answer again: no ``Location``, a batch has many."""
    await send_replay(send, replace(replay, email_id=None))


__all__ = ["BATCH_PATH", "JSON_ONLY", "OVER_RATE", "take_batch"]
