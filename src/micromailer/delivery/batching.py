"""Group commit on an event loop: what is submitted while a batch runs goes in the next one.

Each batch runs in a thread of its own (the store is blocking SQLAlchemy), one batch at a
time, so a busy worker pays one database round trip and one commit for many emails while an
idle one still answers at once: nothing waits for a batch to fill.

With a ``min_interval``, batches start at least that far apart: an item submitted after a quiet
spell still runs at once, but under load the items of a few milliseconds go together, fewer
and larger batches for the same work (the API's intake: docs/performance.md).

With a ``weight``, ``max_batch`` bounds the items' total weight rather than their number (an
item heavier than it runs alone): the intake's items are groups of emails, weighed by size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Most items in one batch: emails stored by one commit, claimed or recorded by one statement.
MAX_BATCH = 256

#: Runs one batch; returns one result per item, in order.
RunBatch = Callable[[list[Item]], Sequence[Result]]
#: What one item counts for against ``max_batch``.
Weigh = Callable[[Item], int]


class GroupBatcher(Generic[Item, Result]):
    """``await submit(item)`` runs ``run_batch`` on ``item`` together with its neighbours."""

    def __init__(
        self, run_batch: RunBatch[Item, Result], name: str, max_batch: int,
        *, min_interval: float = 0.0, weight: Weigh[Item] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._weight = weight
        self._min_interval = min_interval
        self._last_start = float("-inf")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:  # what arrives while this task awaits, it takes next
            if self._min_interval:
                wait = self._last_start + self._min_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_start = loop.time()
            size = self._next_size()
            batch = self._pending[:size]
            del self._pending[:size]
            items = [item for item, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, items)
            except Exception as exc:  # every caller of the batch hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _next_size(self) -> int:
        """How many pending items the next batch takes: at most ``max_batch`` of them, or of
        their weight (at least one item)."""
        if self._weight is None:
            return self._max_batch
        total = count = 0
        for item, _ in self._pending:
            total += self._weight(item)
            if count and total > self._max_batch:
                break
            count += 1
        return count

    def close(self) -> None:
        self._executor.shutdown(wait=True)


__all__ = ["MAX_BATCH", "GroupBatcher", "RunBatch", "Weigh"]
