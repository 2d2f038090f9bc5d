"""The live keys an API process checks requests against, kept fresh without a query per request.

The ring holds every live key's principal by hash. A check is one SHA-256 and one dictionary
lookup. The ring reloads from the store in the background once its copy is
:data:`FRESH_SECONDS` old, and a request that finds it older than :data:`MAX_AGE_SECONDS`
waits for the reload: a revoked key stops working in every API process within that bound,
however quiet the process was. A key the copy does not know makes the request wait for a
reload too, once the copy is :data:`MISS_RELOAD_SECONDS` old, so a key just made works at once;
a flood of unknown keys costs at most one small query per that interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread

from micromailer.security.keys import key_hash
from micromailer.security.principal import Principal

log = logging.getLogger(__name__)

#: Seconds a loaded copy is used as is.
FRESH_SECONDS = 1.0
#: Seconds after which a request waits for a reload: the revocation bound.
MAX_AGE_SECONDS = 3.0
#: Seconds after which a key the copy does not know makes the request wait for a reload.
MISS_RELOAD_SECONDS = 0.5

LoadKeys = Callable[[], dict[str, Principal]]


class KeysUnavailable(Exception):
    """The store could not be read and the ring's copy is too old to trust."""


@dataclass(frozen=True, slots=True)
class _Copy:
    principals: dict[str, Principal]
    loaded_at: float


class KeyRing:
    """``await ring.authenticate(token)``: the token's principal, or ``None``."""

    def __init__(
        self, load: LoadKeys, *, require_auth: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._require_auth = require_auth
        self._clock = clock
        self._copy: _Copy | None = None
        self._reload: asyncio.Task[None] | None = None

    async def required(self) -> bool:
        """Whether requests need a key: asked for, or at least one live key exists."""
        if self._require_auth:
            return True
        return bool((await self._current()).principals)

    async def authenticate(self, token: str) -> Principal | None:
        """The live key ``token`` is, or ``None``; raises :class:`KeysUnavailable`."""
        digest = key_hash(token)
        copy = await self._current()
        principal = copy.principals.get(digest)
        if principal is None and self._clock() - copy.loaded_at >= MISS_RELOAD_SECONDS:
            await self._reloaded()  # made since the copy was loaded?
            if self._copy is not None:
                principal = self._copy.principals.get(digest)
        return principal

    async def _current(self) -> _Copy:
        copy = self._copy
        now = self._clock()
        if copy is None or now - copy.loaded_at >= MAX_AGE_SECONDS:
            await self._reloaded()
            copy = self._copy
            if copy is None or self._clock() - copy.loaded_at >= MAX_AGE_SECONDS:
                raise KeysUnavailable("the API keys could not be read from the store")
            return copy
        if now - copy.loaded_at >= FRESH_SECONDS and (self._reload is None or self._reload.done()):
            self._reload = asyncio.get_running_loop().create_task(self._reload_now())
        return copy

    async def _reloaded(self) -> None:
        """Reload, joining a reload already under way."""
        if self._reload is None or self._reload.done():
            self._reload = asyncio.get_running_loop().create_task(self._reload_now())
        await asyncio.shield(self._reload)

    async def _reload_now(self) -> None:
        started = self._clock()
        try:
            principals = await to_thread.run_sync(self._load)
        except Exception as exc:  # the store is down: keep the old copy until it is too old
            log.warning("could not reload the API keys (%s)", type(exc).__name__)
            return
        self._copy = _Copy(principals, started)


__all__ = [
    "FRESH_SECONDS", "MAX_AGE_SECONDS", "MISS_RELOAD_SECONDS", "KeyRing", "KeysUnavailable",
    "LoadKeys",
]
