"""A worker's metrics on the API's ``GET /metrics``: what ``micromailer run`` shows.

The worker keeps its histograms in its own process and serves them (``queue/exporter.py``); at
each scrape this collector reads that exposition, in OpenMetrics so that histograms come back
exactly, and emits its ``micromailer_*`` families as the API's own (the worker's ``process_*``
would clash with the API's). A worker that does not answer within the timeout leaves them out,
said once in the log until it answers again: the API's own figures still answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpx
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: Seconds a scrape waits for the worker's exporter, well within Prometheus's scrape timeout.
WORKER_SCRAPE_TIMEOUT = 2.0


class WorkerMetricsRelay(Collector):
    """The ``micromailer_*`` metrics a worker serves at ``url``, read afresh on every scrape
    over one kept connection (a new client per scrape costs twenty times the read)."""

    def __init__(self, url: str, timeout: float = WORKER_SCRAPE_TIMEOUT) -> None:
        self._url = url
        self._client = httpx.Client(headers={"accept": OPENMETRICS}, timeout=timeout)
        self._failing = False

    def collect(self) -> Iterable[Metric]:
        try:
            response = self._client.get(self._url)
            response.raise_for_status()
            # prometheus-client's OpenMetrics parser has no annotations; it yields Metric.
            families = list(text_string_to_metric_families(response.text))  # type: ignore[no-untyped-call]
        except (httpx.HTTPError, ValueError) as exc:
            if not self._failing:
                log.warning("metrics: the worker's metrics at %s are left out until it "
                            "answers: %s", self._url, exc)
            self._failing = True
            return []
        if self._failing:
            log.info("metrics: the worker's metrics at %s answer again", self._url)
        self._failing = False
        return [family for family in families if family.name.startswith("micromailer_")]

    def close(self) -> None:
        self._client.close()


__all__ = ["WORKER_SCRAPE_TIMEOUT", "WorkerMetricsRelay"]
