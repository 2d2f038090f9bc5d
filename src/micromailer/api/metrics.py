"""What ``GET /metrics`` exposes, read from the shared state at scrape time.

Every figure comes from the store or the health board, which all API and worker processes
share, so any API process answers a scrape with the same numbers, whichever one Prometheus
reaches, and a restart loses nothing. The process's own CPU, memory and file descriptors come
from prometheus-client's process collector. The workers' histograms are the workers' own
(``delivery/metrics.py``); ``micromailer run`` adds its worker's here (``worker_metrics.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from micromailer.api.score_history import ReadScores
from micromailer.domain.status import Status
from micromailer.health.live import BoardUnavailableError
from micromailer.store.stats import Backlog

log = logging.getLogger(__name__)

#: Emails in the store, by status (``StatsStore.count_by_status``).
CountEmails = Callable[[], dict[str, int]]
#: Provider tries in the store, by ``(provider, outcome)`` (``StatsStore.count_tries``).
CountTries = Callable[[], dict[tuple[str, str], int]]
#: Emails waiting for a worker (``StatsStore.backlog``).
ReadBacklog = Callable[[], Backlog]


class RelayCollector(Collector):
    """The relay's metrics, computed afresh on every scrape."""

    def __init__(
        self, count_emails: CountEmails, count_tries: CountTries, read_scores: ReadScores,
        read_backlog: ReadBacklog,
    ) -> None:
        self._count_emails = count_emails
        self._count_tries = count_tries
        self._read_scores = read_scores
        self._read_backlog = read_backlog

    def collect(self) -> Iterable[Metric]:
        yield from _email_metrics(self._count_emails())
        yield _tries_metric(self._count_tries())
        yield from _backlog_metrics(self._read_backlog())
        yield from self._score_metrics()

    def _score_metrics(self) -> Iterable[Metric]:
        board_up = GaugeMetricFamily(
            "micromailer_health_board_up",
            "1 when the provider scores could be read, 0 when the shared board (Redis) "
            "did not answer.",
        )
        try:
            scores = self._read_scores()
        except BoardUnavailableError as exc:
            log.warning("metrics: provider scores left out: %s", exc)
            board_up.add_metric([], 0)
            yield board_up
            return
        board_up.add_metric([], 1)
        yield board_up
        score = GaugeMetricFamily(
            "micromailer_provider_score",
            "The provider's score right now; the highest is tried first.",
            labels=["provider"],
        )
        base = GaugeMetricFamily(
            "micromailer_provider_base_score",
            "The provider's score when fully healthy (its preference).",
            labels=["provider"],
        )
        parked = GaugeMetricFamily(
            "micromailer_provider_parked",
            "1 while the breaker strategy parks the provider after failures (it gets only a "
            "probe when its backoff ends), else 0; absent under strategies that never park.",
            labels=["provider"],
        )
        for provider in scores:
            score.add_metric([provider.name], provider.score)
            base.add_metric([provider.name], provider.base_score)
            if provider.parked is not None:
                parked.add_metric([provider.name], int(provider.parked))
        yield score
        yield base
        if parked.samples:
            yield parked


def _email_metrics(by_status: dict[str, int]) -> Iterable[Metric]:
    total = CounterMetricFamily(
        "micromailer_emails",
        "Emails that reached each status: queued counts every accepted email, sent and "
        "failed the ones that ended so.",
        labels=["status"],
    )
    total.add_metric([Status.QUEUED.value], sum(by_status.values()))
    for status in (Status.SENT, Status.FAILED):
        total.add_metric([status.value], by_status.get(status.value, 0))
    yield total
    current = GaugeMetricFamily(
        "micromailer_emails_current",
        "Emails in each status right now; queued and sending are the backlog.",
        labels=["status"],
    )
    for status in Status:
        current.add_metric([status.value], by_status.get(status.value, 0))
    yield current


def _backlog_metrics(backlog: Backlog) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "micromailer_queue_backlog",
        "Emails waiting for a worker: queued (new, or waiting out a retry's backoff), or "
        "sending past their lease.",
        value=backlog.emails,
    )
    yield GaugeMetricFamily(
        "micromailer_queue_oldest_seconds",
        "Seconds since the oldest waiting email was accepted; 0 when none waits.",
        value=backlog.oldest_seconds,
    )


def _tries_metric(by_provider_outcome: dict[tuple[str, str], int]) -> Metric:
    tries = CounterMetricFamily(
        "micromailer_provider_tries",
        "Provider tries, by provider and outcome (sent, failed, rejected, recipient_rejected).",
        labels=["provider", "outcome"],
    )
    for (provider, outcome), count in sorted(by_provider_outcome.items()):
        tries.add_metric([provider, outcome], count)
    return tries


def metrics_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of its own per app (so two apps in one process never clash) holding the
    relay's metrics and this process's."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


__all__ = ["RelayCollector", "metrics_registry"]
