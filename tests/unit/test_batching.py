"""Group commit's batching on a real event loop: who goes with whom."""

from __future__ import annotations

import asyncio

from micromailer.delivery.batching import GroupBatcher


def _run(min_interval: float) -> list[list[str]]:
    """A first item alone, then B, then C and D 50 ms later, while B may still wait."""
    batches: list[list[str]] = []

    def run_batch(items: list[str]) -> list[str]:
        batches.append(items)
        return [item.lower() for item in items]

    async def scenario() -> list[str]:
        batcher = GroupBatcher(run_batch, "test", max_batch=10, min_interval=min_interval)
        try:
            first = await batcher.submit("A")
            b = asyncio.ensure_future(batcher.submit("B"))
            await asyncio.sleep(0.05)
            rest = await asyncio.gather(b, batcher.submit("C"), batcher.submit("D"))
            return [first, *rest]
        finally:
            batcher.close()

    assert asyncio.run(scenario()) == ["a", "b", "c", "d"]  # each caller gets its own result
    return batches


def test_without_an_interval_each_batch_starts_as_soon_as_the_last_one_ends() -> None:
    assert _run(0.0) == [["A"], ["B"], ["C", "D"]]


def test_with_an_interval_an_item_after_a_quiet_spell_goes_at_once_and_the_next_wait() -> None:
    # B arrives right after A's batch: it waits out the interval, and C and D join it.
    assert _run(2.0) == [["A"], ["B", "C", "D"]]


def test_with_a_weight_a_batch_holds_at_most_max_batch_of_it_and_a_heavy_item_goes_alone() -> None:
    """The intake's groups: a batch of emails is never split, and never joins a full commit."""
    batches: list[list[str]] = []

    def run_batch(items: list[str]) -> list[int]:
        batches.append(items)
        return [len(item) for item in items]

    async def scenario() -> list[int]:
        batcher = GroupBatcher(run_batch, "test", max_batch=4, weight=len)
        try:
            blocker = asyncio.ensure_future(batcher.submit("a"))
            await asyncio.sleep(0)  # "a" is running: the rest wait and are grouped
            rest = await asyncio.gather(*(batcher.submit(item)
                                          for item in ["bb", "cc", "ddddd", "e", "ff"]))
            return [await blocker, *rest]
        finally:
            batcher.close()

    assert asyncio.run(scenario()) == [1, 2, 2, 5, 1, 2]
    assert batches == [["a"], ["bb", "cc"], ["ddddd"], ["e", "ff"]]
