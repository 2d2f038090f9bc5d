"""Intake checks: the one place where rules about who may send, and how often, plug in.

Every ``POST /email`` runs ``Services.intake_checks`` in order, whatever its encoding, once the
body is read and before it is decoded: rules about who may send and how often belong here
(``Idempotency-Key`` needs the validated request: ``idempotency.py``). A check is an async
callable given the request's headers, client address and raw body; it returns to let the
request go on, or raises :class:`~micromailer.api.intake.answer.IntakeRefused` with a status
and a sentence (401, 429 with ``Retry-After``…), which is answered as is and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Headers

from micromailer.config import Settings


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    """What a check may look at: nothing decoded yet."""

    #: Case-insensitive, as sent (``headers["authorization"]``, ``headers["idempotency-key"]``).
    headers: Headers
    #: The client's ``(host, port)`` as the server saw it, or ``None`` when unknown.
    client: tuple[str, int] | None
    body: bytes


class IntakeCheck(Protocol):
    async def __call__(self, request: IntakeRequest) -> None:
        """Return to let ``request`` go on; raise ``IntakeRefused`` to answer it instead."""


def build_intake_checks(settings: Settings) -> list[IntakeCheck]:
    """The checks this deployment runs on every ``POST /email``, in order (none yet)."""
    return []


__all__ = ["IntakeCheck", "IntakeRequest", "build_intake_checks"]
