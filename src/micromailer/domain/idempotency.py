"""``Idempotency-Key``: the key's syntax, the request's fingerprint, and what a key can say.

A key is held per project. The first request with it reserves it (:class:`Reservation`); once
its email is stored the key keeps that answer (:class:`KeptAnswer`) until it expires, and a
retry of the same request gets it again (:class:`Replay`). Another request with the key, or
one sent while the first is still being answered, is a :class:`Conflict`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

MAX_KEY_LENGTH = 255
#: 1 to 255 printable ASCII characters, the space included (as Stripe takes them).
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")

KEY_SYNTAX = (
    "The `Idempotency-Key` header must be 1 to 255 printable ASCII characters, "
    "such as a UUID; send a new key for each new email."
)


def valid_key(key: str) -> bool:
    """Whether ``key`` may be an ``Idempotency-Key``."""
    return _KEY.fullmatch(key) is not None


class Fingerprinted(Protocol):
    """A validated request an ``Idempotency-Key`` can be held for: an email or a batch."""

    def canonical(self) -> dict[str, Any]:
        """The request as JSON-ready data, the same whatever encoding it came in."""


def fingerprint(request: Fingerprinted, *, test: bool = False) -> str:
    """SHA-256 (hex) of the validated request in canonical form: the same fields give the same
    fingerprint whatever their order or encoding (JSON, a form, multipart), where the raw
    bytes would not. ``test``: sent with a test key, another request than with a live one."""
    canonical = json.dumps(
        {"request": request.canonical(), "test": test},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A request asking for a key: the project's namespace (``""`` without authentication),
    the key, and the request's fingerprint."""

    project: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Reservation:
    """A key held for one request while it is answered. ``reserved_at`` is the lease's token:
    a request that lost its lease to a takeover can no longer complete the key."""

    project: str
    key: str
    reserved_at: datetime


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """The answer a reserved key keeps once its email is stored, in the same commit."""

    reservation: Reservation
    status_code: int
    body: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The first answer, given again."""

    status_code: int
    body: str
    email_id: str | None


class ConflictReason(StrEnum):
    OTHER_REQUEST = "other-request"
    IN_PROGRESS = "in-progress"


@dataclass(frozen=True, slots=True)
class Conflict:
    """The key is another request's, or its first request is still being answered."""

    reason: ConflictReason


#: What asking for a key gives.
KeyOutcome = Reservation | Replay | Conflict


class ReservationLost(Exception):
    """The request's key was taken over (its lease ran out) before its email was stored;
    nothing was stored for it."""


__all__ = [
    "KEY_SYNTAX",
    "MAX_KEY_LENGTH",
    "Conflict",
    "ConflictReason",
    "Fingerprinted",
    "KeptAnswer",
    "KeyOutcome",
    "KeyRequest",
    "Replay",
    "Reservation",
    "ReservationLost",
    "fingerprint",
    "valid_key",
]
