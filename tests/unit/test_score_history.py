"""The score history behind ``GET /providers/history``: a bounded ring buffer, and a sampler
that records a gap, not a guess, when the scores cannot be read."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from micromailer.api.score_history import ScoreHistory, sample_forever
from micromailer.health.snapshots import ProviderScore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _scores(sendgrid: float, mandrill: float = 49.0) -> list[ProviderScore]:
    return [ProviderScore("sendgrid", "sendgrid", sendgrid, 50.0, 1.0, None),
            ProviderScore("mandrill", "mandrill", mandrill, 49.0, 1.0, None)]


def test_the_history_keeps_the_newest_samples_up_to_its_capacity() -> None:
    clock = FakeClock()
    history = ScoreHistory(capacity=3, clock=clock)
    for n in range(5):
        clock.now = 1000.0 + n
        history.record(_scores(50.0 - n))

    samples = history.since(60)

    assert [s.at for s in samples] == [1002.0, 1003.0, 1004.0]
    assert samples[-1].scores == {"sendgrid": 46.0, "mandrill": 49.0}
    assert history.started_at == 1000.0


def test_since_returns_only_the_samples_inside_the_window() -> None:
    clock = FakeClock()
    history = ScoreHistory(clock=clock)
    for at in (1000.0, 1010.0, 1020.0):
        clock.now = at
        history.record(_scores(50.0))

    assert [s.at for s in history.since(15)] == [1010.0, 1020.0]


def test_the_sampler_skips_failed_reads_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    history = ScoreHistory()
    answers: list[Exception | list[ProviderScore]] = [
        _scores(50.0), RuntimeError("redis down"), RuntimeError("redis down"), _scores(45.0)]

    def read() -> Sequence[ProviderScore]:
        answer = answers.pop(0) if answers else _scores(45.0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def run() -> None:
        task = asyncio.create_task(sample_forever(history, read, interval=0.001))
        while answers:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())

    scores = [s.scores["sendgrid"] for s in history.since(60)]
    assert scores[:2] == [50.0, 45.0]
    warnings = [r for r in caplog.records if "could not read the live scores" in r.message]
    assert len(warnings) == 1, "a failing read is logged once, not once a second"
