"""``Idempotency-Key`` on ``POST /email`` and ``POST /emails``: the key reserved before the
emails are stored, the first answer replayed, a conflicting request refused (409), a refused
request's key released.

Reservations of requests that arrive together are made together (one statement on
PostgreSQL, one commit on SQLite); the fingerprints are hashed in that batch's thread, not on
the event loop. A request without the header never comes here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from anyio import to_thread
from starlette.datastructures import Headers

from micromailer.api.intake.answer import IntakeRefused
from micromailer.delivery.batching import MAX_BATCH, GroupBatcher
from micromailer.domain.idempotency import (
    KEY_SYNTAX,
    Conflict,
    ConflictReason,
    Fingerprinted,
    KeyOutcome,
    KeyRequest,
    Replay,
    Reservation,
    fingerprint,
    valid_key,
)
from micromailer.store.idempotency import IdempotencyStore

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
KEY_REUSED = (
    "This `Idempotency-Key` was already used for a different request; use a new key for a "
    "new email, or send the first request unchanged to get its answer again."
)
KEY_IN_PROGRESS = (
    "A request with this `Idempotency-Key` is still being answered; wait a moment, then send "
    "it again to get its answer."
)
KEY_TAKEN_OVER = (
    "This request took so long that another request with the same `Idempotency-Key` took the "
    "key over; nothing was stored for this one. Send it again to get the key's answer."
)
#: Seconds a client is told to wait before asking again about a key in progress.
IN_PROGRESS_RETRY_AFTER = "1"


def requested_key(headers: Headers) -> str | None:
    """The request's ``Idempotency-Key``, or ``None`` without one; a 400 when it is malformed."""
    key = headers.get(HEADER)
    if key is not None and not valid_key(key):
        raise IntakeRefused.about_field("Idempotency-Key", KEY_SYNTAX)
    return key


def conflict_refusal(reason: ConflictReason) -> IntakeRefused:
    """The 409 for a key that is another request's, or still in progress."""
    if reason is ConflictReason.IN_PROGRESS:
        return IntakeRefused(409, KEY_IN_PROGRESS, headers={"Retry-After": IN_PROGRESS_RETRY_AFTER})
    return IntakeRefused(409, KEY_REUSED)


@dataclass(frozen=True, slots=True)
class _Asked:
    project: str
    key: str
    request: Fingerprinted
    test: bool


class IdempotencyGuard:
    """``await claim(...)``: the key reserved for this request, or its first answer to replay;
    raises a 409 :class:`IntakeRefused` for a conflict."""

    def __init__(self, store: IdempotencyStore, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._reserves: GroupBatcher[_Asked, KeyOutcome] = GroupBatcher(
            self._reserve_batch, "micromailer-idempotency", max_batch
        )

    async def claim(
        self, project: str | None, key: str, request: Fingerprinted, *, test: bool = False
    ) -> Reservation | Replay:
        """``project`` is the caller's (``None`` without authentication: one namespace);
        ``request`` an email or a batch, which never share a fingerprint."""
        outcome = await self._reserves.submit(_Asked(project or "", key, request, test))
        if isinstance(outcome, Conflict):
            raise conflict_refusal(outcome.reason)
        return outcome

    async def release(self, reservation: Reservation) -> None:
        """Give the key back after its request was refused; when the store cannot, the
        reservation's lease frees the key soon anyway."""
        try:
            await to_thread.run_sync(self._store.release, reservation)
        except Exception as exc:
            log.warning("could not release an Idempotency-Key (%s); its lease frees it", exc)

    def _reserve_batch(self, asked: list[_Asked]) -> list[KeyOutcome]:
        return self._store.reserve_many([
            KeyRequest(each.project, each.key, fingerprint(each.request, test=each.test))
            for each in asked
        ])

    def close(self) -> None:
        self._reserves.close()


__all__ = [
    "HEADER",
    "IN_PROGRESS_RETRY_AFTER",
    "KEY_IN_PROGRESS",
    "KEY_REUSED",
    "KEY_TAKEN_OVER",
    "IdempotencyGuard",
    "conflict_refusal",
    "requested_key",
]
