"""Reading ``GET /metrics`` as Prometheus would, with prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

#: A sample's labels, sorted: ``(("status", "sent"),)``.
Labels = tuple[tuple[str, str], ...]
#: A sample's name and labels: ``("micromailer_emails_total", (("status", "sent"),))``.
SampleKey = tuple[str, Labels]


def parse_samples(text: str) -> dict[SampleKey, float]:
    """Every sample in a text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labelled(samples: dict[SampleKey, float], name: str) -> dict[Labels, float]:
    """The samples called ``name``, by their labels."""
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def registry_samples(registry: CollectorRegistry) -> dict[SampleKey, float]:
    """Every sample a registry exposes, read back as Prometheus would."""
    return parse_samples(generate_latest(registry).decode())
