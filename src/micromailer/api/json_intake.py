"""``POST /email`` with a JSON body, answered without FastAPI's routing and dependencies.

Under load, FastAPI's per-request machinery (routing, dependency solving, the ``Request``
object, the response class) cost a large share of the API's CPU per accepted email. This
ASGI middleware answers the common case, a valid JSON email, itself: it reads the body, parses
it with :func:`parse_email_request` as the route does, awaits ``services.intake.accept`` (the
group commit) and sends the route's 202, byte for byte.

It never words an error of its own:

- anything that goes wrong before ``accept`` (the body cannot be read or is over the size
  limit, it is not JSON, not an object, not a valid email, or anything unexpected) hands the
  request to the app with the messages already read replayed, so ``create_email`` answers
  it with its usual 400/413/415 and sentence;
- a failure of ``accept`` itself is not replayed, since the email may be stored already (the
  commit succeeded and something after it failed): the app's own exception handlers answer
  it, exactly as they do when the route raises it (503 when the store is down), and what
  they do not handle propagates to the server-error middleware as it would from the route.
"""

from __future__ import annotations

import json
from collections import deque

from fastapi.responses import JSONResponse
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api.deps import Services
from micromailer.api.schemas import EmailAccepted
from micromailer.domain.validation import EmailRequest, parse_email_request

PATH = "/email"


class JsonIntake:
    """Accept valid JSON ``POST /email`` requests; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_json_email_post(scope):
            await self.app(scope, receive, send)
            return
        recorded = _RecordedReceive(receive)
        try:
            email_request = _parse(await recorded.read_body())
        except Exception:  # the route reads the same messages and words the error
            await self.app(scope, recorded.replay(), send)
            return
        services: Services = scope["app"].state.services
        try:
            accepted = await services.intake.accept(email_request)
        except Exception as exc:
            await _answer_as_the_route_would(exc, scope, receive, send)
            return
        response = JSONResponse(
            EmailAccepted(email_id=accepted.email_id).model_dump(by_alias=True),
            status_code=202,
            headers={"Location": f"/email/{accepted.email_id}"},
        )
        await response(scope, receive, send)


def _is_json_email_post(scope: Scope) -> bool:
    """``POST /email`` with a JSON media type: the rule of ``payload.read_payload``."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":  # the first one, as ``request.headers.get`` reads it
            media_type: str = value.decode("latin-1").split(";")[0].strip().lower()
            return media_type == "application/json" or media_type.endswith("+json")
    return False


def _parse(body: bytes) -> EmailRequest:
    """The email in ``body``; raises on anything the route would refuse."""
    data = json.loads(body)  # the parser ``payload.py`` uses, so both accept the same bodies
    if not isinstance(data, dict):
        raise TypeError("the JSON body is not an object")
    return parse_email_request(data)


class _RecordedReceive:
    """Reads the body through ``receive`` and keeps every message, to replay them to the app."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._messages: list[Message] = []
        self._error: Exception | None = None

    async def read_body(self) -> bytes:
        """The whole body; raises what ``receive`` raised (the size limit's 413)."""
        chunks: list[bytes] = []
        while True:
            try:
                message = await self._receive()
            except Exception as exc:
                self._error = exc
                raise
            self._messages.append(message)
            if message["type"] != "http.request":
                raise ConnectionError("the client disconnected before the body was read")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    def replay(self) -> Receive:
        """A ``receive`` giving the app what was read, then raising what ``receive`` raised,
        then delegating to ``receive`` (for ``http.disconnect``)."""
        pending = deque(self._messages)
        error = self._error

        async def replayed() -> Message:
            nonlocal error
            if pending:
                return pending.popleft()
            if error is not None:
                raised, error = error, None
                raise raised
            return await self._receive()

        return replayed


async def _answer_as_the_route_would(
    exc: Exception, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``exc`` with the app's exception handlers, split as Starlette splits them: the
    catch-all (``Exception`` or 500) belongs to the server-error middleware outside this one,
    so an exception only it handles propagates there, as from the route."""
    handlers = {
        key: handler
        for key, handler in scope["app"].exception_handlers.items()
        if key not in (500, Exception)
    }

    async def raise_it(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise exc

    await ExceptionMiddleware(raise_it, handlers=handlers)(scope, receive, send)


__all__ = ["JsonIntake"]
