"""Reading a request body from ASGI, bounded, and knowing when the client left half-way."""

from __future__ import annotations

from starlette.types import Receive

from micromailer.api.body_limit import CLOSE, too_large
from micromailer.api.intake.answer import IntakeRefused


class ClientGone(Exception):
    """The client closed the connection before its whole body arrived: nobody to answer."""


async def read_body(receive: Receive, max_bytes: int) -> bytes:
    """The whole body; :class:`IntakeRefused` (413) once more than ``max_bytes`` arrived (the
    rest stays unread, so the answer closes the connection), :class:`ClientGone` if the
    client disconnected first."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > max_bytes:
            raise IntakeRefused(413, too_large(max_bytes), headers=CLOSE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


__all__ = ["ClientGone", "read_body"]
