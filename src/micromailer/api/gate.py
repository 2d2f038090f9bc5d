"""``KeyGate``: every request's API key checked, its principal set, its rate counted, its key's
name on the lines logged while serving it.

In front of the intake and FastAPI's stack, so that one rule covers every route, ``POST /email``
included. Authentication is on as soon as one live key exists, or with
``MICROMAILER_REQUIRE_AUTH``; while it is off every request acts as :data:`OPEN`.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api.errors import STORE_UNAVAILABLE
from micromailer.api.intake.answer import IntakeRefused, send_refusal
from micromailer.logs import key_context
from micromailer.security.access import Access, access_for
from micromailer.security.audit import AuditLog
from micromailer.security.keyring import KeyRing, KeysUnavailable
from micromailer.security.keys import key_prefix
from micromailer.security.principal import OPEN, Principal, set_principal
from micromailer.security.rate_limit import RateLimiter

log = logging.getLogger(__name__)

NO_KEY = (
    "This API needs an API key: send it as `Authorization: Bearer <key>` "
    "(an operator makes one with `micromailer keys create NAME`)."
)
MALFORMED = "The `Authorization` header must be `Bearer <key>`, with the key after one space."
UNKNOWN_KEY = "This API key is not valid: it is unknown or was revoked."
NOT_ADMIN = (
    "This needs an admin key; this key may only send and read its project's emails "
    "(an operator makes one with `micromailer keys create NAME --scope admin`)."
)
TOO_MANY = "Too many requests for this API key; wait as `Retry-After` says, then try again."
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="micromailer"'}


class KeyGate:
    """Refuse what the caller may not do (401, 403, 429, 503); pass the rest to ``app``."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limiter: RateLimiter, audit: AuditLog) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = access_for(scope["path"])
        try:
            principal = await self._principal(scope, access)
        except IntakeRefused as refusal:
            await send_refusal(send, refusal)
            return
        with key_context(principal.key_name):  # the request's lines name its key
            await self._serve(scope, receive, send, principal, access)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, principal: Principal, access: Access
    ) -> None:
        """Count the request against its key's rate limit, then pass it on."""
        try:
            rate_headers = await self._count(scope, principal, access)
        except IntakeRefused as refusal:
            await send_refusal(send, refusal)
            return
        set_principal(scope, principal)
        if not rate_headers:
            await self.app(scope, receive, send)
            return

        async def send_with_budget(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in rate_headers.items():  # a batch's own count is newer
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_budget)

    async def _principal(self, scope: Scope, access: Access) -> Principal:
        """Who the request acts for; raises :class:`IntakeRefused` when it may not."""
        if access is Access.PUBLIC:  # the probes answer even while the store is down
            return OPEN
        try:
            if not await self.keys.required():
                return OPEN
            token = _bearer_token(Headers(scope=scope).get("authorization"))
            principal = await self.keys.authenticate(token)
        except KeysUnavailable:
            raise IntakeRefused(503, STORE_UNAVAILABLE, headers={"Retry-After": "5"}) from None
        except _Unauthenticated as refused:
            self.audit.refused(_client(scope), None, refused.sentence)
            raise IntakeRefused(401, refused.sentence, headers=_CHALLENGE) from None
        if principal is None:
            self.audit.refused(_client(scope), key_prefix(token), UNKNOWN_KEY)
            raise IntakeRefused(401, UNKNOWN_KEY, headers=_CHALLENGE)
        if access is Access.ADMIN and not principal.admin:
            raise IntakeRefused(403, NOT_ADMIN)
        return principal

    async def _count(self, scope: Scope, principal: Principal, access: Access) -> dict[str, str]:
        """The rate headers to answer with; raises a 429 over the limit."""
        if access is Access.PUBLIC:
            return {}
        verdict = await self.limiter.hit(principal, _client(scope))
        if verdict is None:
            return {}
        if not verdict.allowed:
            raise IntakeRefused(429, TOO_MANY, headers=verdict.headers)
        return verdict.headers


class _Unauthenticated(Exception):
    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def _bearer_token(header: str | None) -> str:
    if not header:
        raise _Unauthenticated(NO_KEY)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _Unauthenticated(MALFORMED)
    return token


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


__all__ = ["MALFORMED", "NOT_ADMIN", "NO_KEY", "TOO_MANY", "UNKNOWN_KEY", "KeyGate"]
