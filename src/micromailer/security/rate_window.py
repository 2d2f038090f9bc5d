"""Fixed-window counting on a ``limits`` async storage: one call per key at a time, count
included.

Each hit makes ``limits``' own fixed-window call (``storage.incr(item.key_for(...),
item.get_expiry())``) and keeps the count it returns, which the ``RateLimit`` header's ``r``
needs; where a window ends (``t``) is remembered from the hit that opened it, or asked once.
Hits of one key that arrive while its call is in flight gather and go together as one
``incr(amount=n)`` when it returns, each taking its own place in the total, as a group commit
stores emails: under load, one storage call per round trip rather than per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from limits import RateLimitItem
from limits.aio.storage import Storage

#: Beyond this many remembered window ends, the ended ones are forgotten.
_ENDS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Requests counted in the current window (this one included), and when it ends."""

    count: int
    ends_at: float


@dataclass(slots=True)
class _Group:
    """Hits of one key gathered for one storage call: how many, and the call's outcome (the
    total after it, and when the window ends)."""

    counted: asyncio.Future[tuple[int, float]]
    size: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class WindowCounter:
    """Counts hits per ``(limit, identity)`` in the limit's fixed window."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self._clock = clock
        #: Where each window this process has seen ends, by storage key.
        self._ends: dict[str, float] = {}
        #: By storage key: the group taking hits now, and the one whose call is in flight.
        self._gathering: dict[str, _Group] = {}
        self._in_flight: dict[str, asyncio.Future[tuple[int, float]]] = {}

    async def hit(self, item: RateLimitItem, identity: str, cost: int = 1) -> WindowCount:
        """Count one request of ``identity`` against ``item``, as ``cost`` requests (a batch's
        emails); storage errors propagate."""
        key = item.key_for(identity)
        group = self._gathering.get(key)
        if group is None:
            group = self._gathering[key] = _Group(asyncio.get_running_loop().create_future())
            # A task of its own, so that a client leaving cannot leave the others waiting.
            group.task = asyncio.get_running_loop().create_task(self._count(item, key, group))
        group.size += cost
        place = group.size
        total, ends_at = await asyncio.shield(group.counted)
        return WindowCount(total - group.size + place, ends_at)

    async def _count(self, item: RateLimitItem, key: str, group: _Group) -> None:
        """Wait for the key's call in flight, if any, then count the group in one call."""
        previous = self._in_flight.get(key)
        self._in_flight[key] = group.counted
        try:
            if previous is not None:
                await asyncio.wait([previous])
            self._close(key, group)  # hits from now on form the next group
            window = item.get_expiry()
            total = await self.storage.incr(key, window, amount=group.size)
            group.counted.set_result((total, await self._window_end(key, window, total, group)))
        except Exception as exc:  # every hit of the group hears it
            group.counted.set_exception(exc)
        finally:
            self._close(key, group)
            if self._in_flight.get(key) is group.counted:
                del self._in_flight[key]
            if not group.counted.done():  # cancelled: the loop is closing
                group.counted.cancel()

    def _close(self, key: str, group: _Group) -> None:
        if self._gathering.get(key) is group:
            del self._gathering[key]

    async def _window_end(self, key: str, window: int, total: int, group: _Group) -> float:
        now = self._clock()
        if total == group.size:  # this group opened the window
            ends_at = now + window
        else:
            known = self._ends.get(key)
            if known is not None and known > now:
                return known
            ends_at = await self.storage.get_expiry(key)
        self._remember(key, ends_at, now)
        return ends_at

    def _remember(self, key: str, ends_at: float, now: float) -> None:
        if len(self._ends) >= _ENDS_KEPT:
            self._ends = {k: end for k, end in self._ends.items() if end > now}
            if len(self._ends) >= _ENDS_KEPT // 2:  # mostly live: start over, ask again
                self._ends.clear()
        self._ends[key] = ends_at


__all__ = ["WindowCount", "WindowCounter"]
