"""The worker's own metrics, observed where the work is done: how long an email took from its
acceptance to ``sent``, and how long each provider request took, by provider and outcome.

They live on a registry of their own (no clash between two workers in one test process); the
worker serves it on ``MICROMAILER_WORKER_METRICS_PORT`` (``queue/exporter.py``). Test emails,
which go to the sandbox fakes, are not observed, as the store's tries counter leaves them out.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from micromailer.domain.status import Outcome

#: Accept → sent: from a provider's quick answer to an email retried for an hour.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: One provider request: fast answers to ``MICROMAILER_PROVIDER_TOTAL_TIMEOUT`` (30 s).
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)


class DeliveryMetrics:
    """The histograms of one worker; observing one is a few microseconds and takes no lock
    of ours."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._delivery = Histogram(
            "micromailer_email_delivery_seconds",
            "Seconds from an email's acceptance (its createdAt) to its recording as sent.",
            buckets=DELIVERY_BUCKETS, registry=self.registry,
        )
        self._requests = Histogram(
            "micromailer_provider_request_seconds",
            "Seconds one provider request took, by provider and outcome (sent, failed, "
            "rejected, recipient_rejected).",
            ["provider", "outcome"], buckets=REQUEST_BUCKETS, registry=self.registry,
        )
        # Children by label values: ``labels()`` takes the metric's lock on every call. A
        # race here only looks the same child up twice.
        self._request_children: dict[tuple[str, str], Histogram] = {}

    def email_sent(self, seconds: float) -> None:
        """An email was recorded ``sent`` ``seconds`` after it was accepted."""
        self._delivery.observe(max(0.0, seconds))

    def provider_answered(self, provider: str, outcome: Outcome, seconds: float) -> None:
        """One request to ``provider`` ended in ``outcome`` after ``seconds``."""
        key = (provider, outcome.value)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self._requests.labels(*key)
        child.observe(max(0.0, seconds))


__all__ = ["DELIVERY_BUCKETS", "REQUEST_BUCKETS", "DeliveryMetrics"]
