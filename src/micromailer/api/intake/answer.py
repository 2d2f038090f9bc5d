"""What ``POST /email`` answers: the 202 and every refusal, written straight to ASGI.

One writer for every answer of the intake, in the app's shapes: ``{"status": "queued",
"emailId"}`` with ``Location``, or ``{"status": "failed", "error": <sentence>, "details"}``
(``schemas.EmailAccepted`` and ``schemas.ErrorBody``), serialized as Starlette's
``JSONResponse`` serializes them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.types import Send

from micromailer.delivery.intake import ACCEPTED_STATUS, accepted_body
from micromailer.domain.idempotency import Replay

Header = tuple[bytes, bytes]
#: Writes a request's answer.
Answer = Callable[[Send], Awaitable[None]]


class IntakeRefused(Exception):
    """A ``POST /email`` refused with ``status`` and one sentence saying what to fix.

    Raised by every step of the intake, and by the intake checks, and answered as is.
    """

    def __init__(
        self, status: int, sentence: str, details: Sequence[Mapping[str, object]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.details = [{key: str(value) for key, value in detail.items()} for detail in details]
        self.headers = dict(headers or {})

    @classmethod
    def about_field(cls, name: str, sentence: str) -> IntakeRefused:
        """A 400 about one field, its detail in the shape validation's problems have."""
        return cls(400, sentence, [{"field": name, "message": sentence}])


async def send_accepted(send: Send, email_id: str) -> None:
    """The 202: the email is stored; its status lives at ``Location``."""
    await send_json(send, ACCEPTED_STATUS, accepted_body(email_id).encode(), _location(email_id))


async def send_replay(send: Send, replay: Replay) -> None:
    """The answer an ``Idempotency-Key`` kept, byte for byte, with its ``Location``, and
    ``Idempotent-Replayed: true`` as Stripe marks a replay."""
    headers = [*_location(replay.email_id), (b"idempotent-replayed", b"true")]
    await send_json(send, replay.status_code, replay.body.encode(), headers)


def _location(email_id: str | None) -> list[Header]:
    return [(b"location", b"/email/" + email_id.encode())] if email_id else []


async def send_refusal(send: Send, refusal: IntakeRefused) -> None:
    body = {"status": "failed", "error": refusal.sentence, "details": refusal.details}
    headers = [(name.lower().encode(), value.encode()) for name, value in refusal.headers.items()]
    await send_json(send, refusal.status, _dumps(body), headers)


async def send_json(send: Send, status: int, body: bytes, headers: Sequence[Header] = ()) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            *headers,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


def _dumps(content: object) -> bytes:
    """JSON as ``JSONResponse`` renders it: compact, UTF-8, no NaN."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


__all__ = ["Answer", "IntakeRefused", "send_accepted", "send_json", "send_refusal", "send_replay"]
