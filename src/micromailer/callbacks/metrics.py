"""The worker's count of callback tries, by outcome, on the worker's registry
(``queue/exporter.py``; ``micromailer run`` adds it to the API's ``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

#: A try's outcome: the receiver took it, another try is planned, or none is (given up).
OUTCOMES = ("delivered", "retrying", "failed")


class CallbackMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._tries = Counter(
            "micromailer_callback_deliveries",
            "Callback delivery tries by outcome: delivered (a 2xx), retrying (failed, another "
            "try planned) or failed (failed, the retry schedule is over).",
            ["outcome"], registry=self.registry,
        )
        for outcome in OUTCOMES:  # every series shown from the start, at 0
            self._tries.labels(outcome)

    def tried(self, outcome: str) -> None:
        self._tries.labels(outcome).inc()


__all__ = ["OUTCOMES", "CallbackMetrics"]
