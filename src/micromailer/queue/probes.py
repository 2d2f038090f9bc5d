"""The worker's synthetic probes, from the settings: which providers, how often, on which
board; a thread of their own with a blocking HTTP client of their own. Workers that share a
Redis board share the probes too: one probe per provider per interval between them."""

from __future__ import annotations

import logging
from typing import cast

import httpx
import redis

from micromailer.config import Settings
from micromailer.delivery.loop_board import OnLearn
from micromailer.delivery.probes import Claim, Prober, ProbeRunner
from micromailer.health.board import HealthBoard
from micromailer.health.redis_states import redis_client
from micromailer.providers.http import HttpSender
from micromailer.providers.registry import build_adapters, make_http_client

log = logging.getLogger(__name__)

#: Where a round's claim on a provider's probe lives: ``micromailer:probe:<provider>``.
CLAIM_PREFIX = "micromailer:probe:"
#: A claim lasts this share of the interval, so the next round's is free when it comes.
CLAIM_SHARE = 0.9


class RedisClaims:
    """One probe per provider per interval across workers: a key set if absent, with a TTL.

    When Redis cannot be reached the worker probes anyway (a few probes too many beat none)."""

    def __init__(self, client: redis.Redis, interval: float, prefix: str = CLAIM_PREFIX) -> None:
        self._client = client
        self._ttl_ms = max(1, int(interval * CLAIM_SHARE * 1000))
        self._prefix = prefix

    def __call__(self, provider: str) -> bool:
        try:
            return bool(self._client.set(f"{self._prefix}{provider}", "1", nx=True,
                                         px=self._ttl_ms))
        except redis.RedisError as exc:
            log.debug("probes: no claim on %s's probe (%s); probing anyway", provider, exc)
            return True

    def close(self) -> None:
        self._client.close()


class WorkerProbes:
    """The probe thread and its client: :meth:`start` with the worker, :meth:`close` with it."""

    def __init__(
        self, runner: ProbeRunner, client: httpx.Client, claims: RedisClaims | None = None
    ) -> None:
        self.runner = runner
        self._client = client
        self._claims = claims

    def start(self) -> None:
        self.runner.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop probing (the round under way ends first, up to ``timeout``), close the client."""
        self.runner.stop(timeout)
        self._client.close()
        if self._claims is not None:
            self._claims.close()


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
    claims = None
    if settings.redis_url:
        claims = RedisClaims(redis_client(settings.redis_url, settings.redis_timeout),
                             settings.probe_interval)
    claim: Claim | None = claims
    prober = Prober(adapters, board, settings.sender_email, on_learn, claim)
    log.info("probes: %s every %.0f s, in test mode%s", ", ".join(names),
             settings.probe_interval, ", one per provider across workers" if claims else "")
    return WorkerProbes(ProbeRunner(prober, settings.probe_interval), client, claims)


__all__ = ["CLAIM_PREFIX", "CLAIM_SHARE", "RedisClaims", "WorkerProbes", "build_probes"]
