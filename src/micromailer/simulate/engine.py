"""One run: a scenario, a strategy, a seed, on a simulated clock, through the real Dispatcher.

Emails arrive at a steady rate; email ``i`` goes to worker ``i % workers``, whose real
:class:`~micromailer.delivery.dispatcher.Dispatcher` ranks the providers on its board and tries
them in that order, failing over, classifying and recording exactly as in the service. An
attempt where every provider failed is retried as the worker would: after the real
:class:`~micromailer.retry.DeliveryRetryPolicy`, with the service's defaults.

When tries take time (a scenario with latency), each attempt runs in a greenlet: a try parks
it until the clock reaches the try's end, and the emails that arrive meanwhile are ranked on a
board that does not know the answer yet, as in a worker with many emails in flight.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.probes import lesson_of
from micromailer.delivery.verdict import AttemptReport, Delivered, RetryLater
from micromailer.domain.status import Outcome
from micromailer.health.base import Strategy
from micromailer.health.board import HealthBoard
from micromailer.retry import DeliveryRetryPolicy
from micromailer.simulate.extra import load_greenlet
from micromailer.simulate.policies import make_sim_board
from micromailer.simulate.scenarios import Scenario
from micromailer.simulate.world import MESSAGE, Draws, SimClock, SimulatedAdapter

#: The service's retry policy with its default settings.
RETRY = DeliveryRetryPolicy()
MAX_ATTEMPTS = RETRY.max_attempts


@dataclass
class RunResult:
    """What one run counted. Times are simulated seconds."""

    scenario: str
    strategy: str
    seed: int
    emails: int = 0
    sends: int = 0
    undelivered: int = 0
    tries: int = 0
    failed_tries: int = 0
    #: Seconds spent in tries that failed (waiting for an error or a timeout).
    time_lost: float = 0.0
    delivered_by: dict[str, int] = field(default_factory=dict)
    #: Attempts started while the preferred provider was healthy, and how many it delivered.
    healthy_attempts: int = 0
    healthy_preferred: int = 0
    #: For each end of a fault of the preferred provider: seconds until it delivered again.
    return_delays: list[float] = field(default_factory=list)
    #: Synthetic probes made (one per provider and board every probe interval).
    probes: int = 0
    #: Scores of worker 0's board, once a second (only when asked for).
    times: list[float] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)


class Engine:
    """Runs one scenario with one strategy and one seed."""

    def __init__(
        self,
        scenario: Scenario,
        strategy: str | Strategy,
        seed: int,
        *,
        sample_scores: bool = False,
        probe_interval: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.clock = SimClock()
        label = strategy if isinstance(strategy, str) else strategy.name
        self.result = RunResult(scenario.name, label, seed)
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._greenlet = load_greenlet()
        self._hub = self._greenlet.getcurrent()
        #: The email (and its attempt number) whose code runs right now.
        self._current: tuple[int, int] = (0, 1)
        self._concurrent = scenario.concurrent
        self.adapters = [
            SimulatedAdapter(
                provider,
                Draws(seed, scenario.name, provider.name),
                self.clock,
                self._now_sending,
                self._sleep,
            )
            for provider in scenario.providers
        ]
        self._by_name = {adapter.name: adapter for adapter in self.adapters}
        bases = {provider.name: provider.base_score for provider in scenario.providers}
        rng = random.Random(f"{seed}/{scenario.name}/ranking")
        boards_needed = 1 if scenario.shared_board else scenario.workers
        self.boards: list[HealthBoard] = [
            make_sim_board(
                strategy, bases, self.clock, rng=rng, would_succeed=self._would_succeed
            )
            for _ in range(boards_needed)
        ]
        self.dispatchers = [
            Dispatcher(self.adapters, self.boards[worker % boards_needed], clock=self.clock.utc)
            for worker in range(scenario.workers)
        ]
        preferred = scenario.preferred.behaviour
        self._preferred = scenario.preferred.name
        self._preferred_healthy = preferred.healthy
        self._recoveries = sorted(preferred.recoveries(scenario.duration))
        self._sample_scores = sample_scores
        if probe_interval is not None and probe_interval <= 0:
            raise ValueError("the probe interval must be positive")
        self._probe_interval = probe_interval

    # -- the run --------------------------------------------------------------------------

    def run(self) -> RunResult:
        scenario, heap = self.scenario, self._heap
        total = scenario.emails
        next_email, next_sample = 0, 0.0
        if self._probe_interval is not None:
            self._at(self._probe_interval, lambda: self._probe(0))
        while next_email < total or heap:
            arrival = next_email / scenario.rate if next_email < total else float("inf")
            when = heap[0][0] if heap and heap[0][0] <= arrival else arrival
            if self._sample_scores:
                while next_sample <= min(when, scenario.duration):
                    self._sample(next_sample)
                    next_sample += 1.0
            self.clock.now = when
            if heap and heap[0][0] <= arrival:
                heapq.heappop(heap)[2]()
            else:
                self.result.emails += 1
                self._start(next_email, 1)
                next_email += 1
        for start in self._recoveries[len(self.result.return_delays):]:
            self.result.return_delays.append(max(0.0, scenario.duration - start))
        return self.result

    def _start(self, email: int, attempt: int) -> None:
        if self._concurrent:
            self._greenlet.greenlet(self._attempt).switch(email, attempt)
        else:
            self._attempt(email, attempt)

    def _attempt(self, email: int, attempt: int) -> None:
        started = self.clock.now
        self._current = (email, attempt)
        dispatcher = self.dispatchers[email % self.scenario.workers]
        report = dispatcher.attempt(MESSAGE)
        self._finish(email, attempt, started, report)

    def _finish(self, email: int, attempt: int, started: float, report: AttemptReport) -> None:
        result = self.result
        result.tries += len(report.tries)
        for done in report.tries:
            if done.outcome is not Outcome.SENT:
                result.failed_tries += 1
                result.time_lost += (done.finished_at - done.started_at).total_seconds()
        verdict = report.verdict
        healthy = self._preferred_healthy(started)
        result.healthy_attempts += healthy
        if isinstance(verdict, Delivered):
            result.sends += 1
            result.delivered_by[verdict.provider] = result.delivered_by.get(verdict.provider, 0) + 1
            if verdict.provider == self._preferred:
                result.healthy_preferred += healthy
                self._returned(started)
        elif isinstance(verdict, RetryLater) and (
            delay := RETRY.retry_in(
                attempt, retry_after=verdict.retry_after,
                rng=random.Random(f"{self.seed}/{email}/{attempt}/jitter"),
            )
        ) is not None:
            self._at(self.clock.now + delay, lambda: self._start(email, attempt + 1))
        else:
            result.undelivered += 1

    def _returned(self, t: float) -> None:
        """The preferred provider delivered at ``t``: close every fault that ended before."""
        delays, recoveries = self.result.return_delays, self._recoveries
        while len(delays) < len(recoveries) and recoveries[len(delays)] <= t:
            delays.append(t - recoveries[len(delays)])

    def _probe(self, number: int) -> None:
        """Probe round ``number``: each board learns what a test-mode request to each
        provider got (as each worker's probes teach its own board), then the next round."""
        for board in self.boards:
            lessons = []
            for adapter in self.adapters:
                lesson = lesson_of(adapter.name, adapter.probe_answer(number))
                if lesson is not None:
                    lessons.append(lesson)
                self.result.probes += 1
            board.record_many(lessons)
        interval = self._probe_interval
        if interval is not None and self.clock.now + interval < self.scenario.duration:
            self._at(self.clock.now + interval, lambda: self._probe(number + 1))

    # -- time -----------------------------------------------------------------------------

    def _at(self, when: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action))

    def _sleep(self, seconds: float) -> None:
        """Park the running email's greenlet for ``seconds`` of simulated time."""
        parked, sending = self._greenlet.getcurrent(), self._current

        def resume() -> None:
            self._current = sending
            parked.switch()

        self._at(self.clock.now + seconds, resume)
        self._hub.switch()

    def _now_sending(self) -> tuple[int, int]:
        return self._current

    def _would_succeed(self, name: str) -> bool:
        email, attempt = self._current
        return self._by_name[name].answer(email, attempt, self.clock.now).error is None

    def _sample(self, t: float) -> None:
        saved, self.clock.now = self.clock.now, t
        self.result.times.append(t)
        for name, score in self.boards[0].scores().items():
            self.result.scores.setdefault(name, []).append(score)
        self.clock.now = saved


def run_once(
    scenario: Scenario, strategy: str | Strategy, seed: int, *, sample_scores: bool = False,
    probe_interval: float | None = None,
) -> RunResult:
    """Run ``scenario`` once with ``strategy`` on ``seed``; with ``probe_interval``, synthetic
    probes every that many seconds teach the boards too."""
    return Engine(
        scenario, strategy, seed, sample_scores=sample_scores, probe_interval=probe_interval
    ).run()


__all__ = ["MAX_ATTEMPTS", "Engine", "RunResult", "run_once"]
