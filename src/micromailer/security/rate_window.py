"""Fixed-window counting on a ``limits`` async storage: one call per request, count included.

``limits``' ``FixedWindowRateLimiter.hit`` is one ``storage.incr(item.key_for(...),
item.get_expiry())`` compared with the limit; :class:`WindowCounter` makes the very same call
(same key, same window: the first hit opens it, it ends ``window`` seconds later) and keeps the
count it returns, which is what the ``RateLimit`` header's ``r`` needs. When and where a window
ends (``t``) is known from the hit that opened it; a process that did not see that hit (another
API process did, through Redis) asks the storage once per window and remembers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem
from limits.aio.storage import Storage

#: Beyond this many remembered window ends, the ended ones are forgotten.
_ENDS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Requests counted in the current window (this one included), and when it ends."""

    count: int
    ends_at: float


class WindowCounter:
    """Counts hits per ``(limit, identity)`` in the limit's fixed window."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self._clock = clock
        #: Where each window this process has seen ends, by storage key.
        self._ends: dict[str, float] = {}

    async def hit(self, item: RateLimitItem, identity: str) -> WindowCount:
        """Count one request of ``identity`` against ``item``; storage errors propagate."""
        key = item.key_for(identity)
        window = item.get_expiry()
        count = await self.storage.incr(key, window)
        now = self._clock()
        if count == 1:  # this hit opened the window
            ends_at = now + window
        else:
            known = self._ends.get(key)
            if known is not None and known > now:
                return WindowCount(count, known)
            ends_at = await self.storage.get_expiry(key)
        self._remember(key, ends_at, now)
        return WindowCount(count, ends_at)

    def _remember(self, key: str, ends_at: float, now: float) -> None:
        if len(self._ends) >= _ENDS_KEPT:
            self._ends = {k: end for k, end in self._ends.items() if end > now}
            if len(self._ends) >= _ENDS_KEPT // 2:  # mostly live: start over, ask again
                self._ends.clear()
        self._ends[key] = ends_at


__all__ = ["WindowCount", "WindowCounter"]
