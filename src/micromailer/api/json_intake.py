"""``POST /email`` with a JSON body, answered in front of the whole FastAPI stack.

Under load, FastAPI's per-request machinery (its middleware layers, routing, dependency
solving, the ``Request`` object, the response class) cost a large share of the API's CPU per
accepted email. :class:`JsonIntake` wraps the app's whole middleware stack
(``api/app.py: RelayApp``) and answers the common case, a valid JSON email, itself: it reads
the body, parses it with :func:`parse_email_request` as the route does, awaits
``services.intake.accept`` (the group commit) and sends the route's 202, byte for byte.

It never words an error of its own:

- anything that goes wrong before ``accept`` (a body declared or found over the size limit,
  a body that cannot be read, is not JSON, not an object, not a valid email, or anything
  unexpected) hands the request to the app with the messages already read replayed, so the
  app's ``BodySizeLimit`` and ``create_email`` answer it with their usual 400/413/415 and
  sentence;
- a failure of ``accept`` itself is not replayed, since the email may be stored already (the
  commit succeeded and something after it failed): the app's own exception handlers answer
  it, exactly as they do when the route raises it (503 when the store is down), and the
  catch-all 500 answers and re-raises what they do not handle, as it would from the route.
"""

from __future__ import annotations

import json
from collections import deque

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api.body_limit import declared_too_long
from micromailer.api.deps import Services
from micromailer.api.schemas import EmailAccepted
from micromailer.domain.validation import EmailRequest, parse_email_request

PATH = "/email"


class JsonIntake:
    """Accept valid JSON ``POST /email`` requests; pass everything else to ``app``.

    ``app`` is the app's middleware stack, ``max_bytes`` the body limit its ``BodySizeLimit``
    enforces: a body over it is left to the app, unparsed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_json_email_post(scope, self.max_bytes):
            await self.app(scope, receive, send)
            return
        recorded = _RecordedReceive(receive)
        try:
            email_request = _parse(await recorded.read_body(self.max_bytes))
        except Exception:  # the app reads the same messages and words the error
            await self.app(scope, recorded.replay(), send)
            return
        services: Services = scope["app"].state.services
        try:
            accepted = await services.intake.accept(email_request)
        except Exception as exc:
            await _answer_as_the_route_would(exc, scope, receive, send)
            return
        await _send_accepted(accepted.email_id, send)


async def _send_accepted(email_id: str, send: Send) -> None:
    """The route's 202: its body and its headers, in the order ``JSONResponse`` writes them."""
    body = EmailAccepted(email_id=email_id).model_dump_json(by_alias=True).encode()
    await send({
        "type": "http.response.start",
        "status": 202,
        "headers": [
            (b"location", f"/email/{email_id}".encode()),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


def _is_json_email_post(scope: Scope, max_bytes: int) -> bool:
    """``POST /email`` with a JSON media type (the rule of ``payload.read_payload``) and no
    ``Content-Length`` over ``max_bytes`` (the rule of ``BodySizeLimit``)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
        return False
    if declared_too_long(scope, max_bytes):
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

    async def read_body(self, max_bytes: int) -> bytes:
        """The whole body; raises what ``receive`` raised, or once more than ``max_bytes``
        arrived (the rest stays unread, for the app's ``BodySizeLimit`` to refuse)."""
        chunks: list[bytes] = []
        received = 0
        while True:
            try:
                message = await self._receive()
            except Exception as exc:
                self._error = exc
                raise
            self._messages.append(message)
            if message["type"] != "http.request":
                raise ConnectionError("the client disconnected before the body was read")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > max_bytes:
                raise ValueError("the body is over the size limit")
            chunks.append(chunk)
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
    catch-all (``Exception`` or 500) belongs to the server-error middleware, which answers
    and re-raises an exception only it handles, as it does for the route."""
    app = scope["app"]
    handlers, catch_all = {}, None
    for key, handler in app.exception_handlers.items():
        if key in (500, Exception):
            catch_all = handler
        else:
            handlers[key] = handler

    async def raise_it(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise exc

    answer = ServerErrorMiddleware(
        ExceptionMiddleware(raise_it, handlers=handlers), handler=catch_all, debug=app.debug
    )
    await answer(scope, receive, send)


__all__ = ["JsonIntake"]
