"""The worker's synthetic probes, from the settings: which providers, how often, on which
board; a thread of their own with a blocking HTTP client of their own."""

from __future__ import annotations

import logging
from typing import cast

import httpx

from micromailer.config import Settings
from micromailer.delivery.loop_board import OnLearn
from micromailer.delivery.probes import Prober, ProbeRunner
from micromailer.health.board import HealthBoard
from micromailer.providers.http import HttpSender
from micromailer.providers.registry import build_adapters, make_http_client

log = logging.getLogger(__name__)


class WorkerProbes:
    """The probe thread and its client: :meth:`start` with the worker, :meth:`close` with it."""

    def __init__(self, runner: ProbeRunner, client: httpx.Client) -> None:
        self.runner = runner
        self._client = client

    def start(self) -> None:
        self.runner.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop probing (the round under way ends first, up to ``timeout``), close the client."""
        self.runner.stop(timeout)
        self._client.close()


def build_probes(
    settings: Settings, board: HealthBoard, on_learn: OnLearn | None = None
) -> WorkerProbes | None:
    """The probes ``MICROMAILER_PROBE_INTERVAL`` and ``MICROMAILER_PROBE_PROVIDERS`` ask for;
    ``None`` when off or when no provider asked for is configured (said in the log)."""
    if not settings.probe_interval:
        return None
    names = settings.probed_providers()
    if settings.probe_providers:
        missing = [name for name in settings.probe_providers.split(",")
                   if name.strip() and name.strip().lower() not in names]
        if missing:
            log.warning("probes: %s not configured as a provider, not probed",
                        ", ".join(name.strip() for name in missing))
    if not names:
        log.warning("probes: every %.0f s asked for, but no configured provider has a test "
                    "mode to probe (sendgrid, postmark, mailgun)", settings.probe_interval)
        return None
    client = make_http_client(settings)
    adapters = [
        adapter for adapter in build_adapters(settings, cast(HttpSender, client))
        if adapter.name in names
    ]
    prober = Prober(adapters, board, settings.sender_email, on_learn)
    log.info("probes: %s every %.0f s, in test mode", ", ".join(names), settings.probe_interval)
    return WorkerProbes(ProbeRunner(prober, settings.probe_interval), client)


__all__ = ["WorkerProbes", "build_probes"]
