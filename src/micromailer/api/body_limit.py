"""A hard cap on request bodies: over the limit answers 413 before the body is read whole.

A body declared too long is refused before any of it is read; one sent without a length
(chunked) is refused as soon as what arrived passes the limit. Either way the rest of the body
is never read, so the answer closes the connection.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api.errors import error_response

#: The rest of an oversized body stays unread on the connection: it cannot carry another request.
CLOSE = {"connection": "close"}


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_long(scope, self.max_bytes):
            # The app's error shape, answered here: no route has run.
            await error_response(413, too_large(self.max_bytes), headers=CLOSE)(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, too_large(self.max_bytes), headers=CLOSE)
            return message

        await self.app(scope, limited_receive, send)



def too_large(max_bytes: int) -> str:
    """The sentence of a 413."""
    return f"The request body is larger than {max_bytes // 1024} KiB; send a shorter email."


def declared_too_long(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's ``Content-Length`` (the last one, if repeated) is over
    ``max_bytes``."""
    declared = dict(scope["headers"]).get(b"content-length")
    return declared is not None and declared.isdigit() and int(declared) > max_bytes


__all__ = ["CLOSE", "BodySizeLimit", "declared_too_long", "too_large"]
