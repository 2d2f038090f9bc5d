"""Settings, read from the environment (prefix ``MICROMAILER_``) by pydantic-settings.

Nothing here is built at import time: callers make a ``Settings()`` and pass it on.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from micromailer.secret_files import FROM_FILE, SecretFileSettingsSource
from micromailer.security.hosts import parse_host_patterns
from micromailer.security.origins import parse_origins
from micromailer.security.proxies import parse_trusted_proxies

#: Every provider micromailer knows, in default preference order.
KNOWN_PROVIDERS: tuple[str, ...] = ("sendgrid", "mandrill")

#: Key the sandbox's fakes accept, used in sandbox mode.
SANDBOX_API_KEY = "sandbox-key"

DEFAULT_SANDBOX_PORT = 8025

#: Seconds a lease holds beyond its provider tries: the claim's and the outcome's commits, and
#: the event loop's own delays between them.
LEASE_MARGIN = 10.0

#: Every strategy the service can run (``MICROMAILER_STRATEGY``), the original first. Named
#: here, not in ``health``, so that settings never import the code they configure.
STRATEGY_NAMES: tuple[str, ...] = ("original", "breaker", "priority")
#: The service's default: the one the simulation favours (docs/selection.md).
DEFAULT_STRATEGY = "breaker"

#: How log lines are written (``MICROMAILER_LOG_FORMAT``): one JSON object a line, or text for
#: a console (``logs.py``).
LOG_FORMATS: tuple[str, ...] = ("json", "console")


class QueueType(StrEnum):
    """The deliver queue's type on RabbitMQ (``MICROMAILER_QUEUE_TYPE``)."""

    #: One node holds the queue: for a single broker.
    CLASSIC = "classic"
    #: Replicated over a cluster's nodes (Raft): it survives the loss of a minority of them.
    QUORUM = "quorum"


#: A setting that holds a secret (a key, or a URL with a password): it may also come from the
#: file its ``<NAME>_FILE`` variable names (``secret_files.py``).
Credential = Annotated[SecretStr | None, FROM_FILE]
SecretUrl = Annotated[str | None, FROM_FILE]


class Settings(BaseSettings):
    """Every knob of micromailer. Names are part of the public contract (see DESIGN.md)."""

    model_config = SettingsConfigDict(env_prefix="MICROMAILER_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: SecretUrl = None
    broker_url: SecretUrl = None
    redis_url: SecretUrl = None

    providers: str | None = None
    sendgrid_api_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("SENDGRID_API_KEY", "MICROMAILER_SENDGRID_API_KEY"),
    )
    mandrill_api_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("MANDRILL_API_KEY", "MICROMAILER_MANDRILL_API_KEY"),
    )
    sendgrid_base_url: str = "https://api.sendgrid.com"
    mandrill_base_url: str = "https://mandrillapp.com"

    sender_email: str = "no-reply@localhost"
    sender_name: str = "micromailer"

    max_attempts: int = Field(default=3, ge=1, le=20)
    #: Delay before the second attempt, in seconds; each further attempt doubles it.
    retry_delay: float = Field(default=10.0, ge=0)
    retry_delay_max: float = Field(default=600.0, ge=0)

    #: The least time a worker holds an email in ``sending`` before another may take it over;
    #: the lease is longer when the providers' timeouts need it (:attr:`lease_seconds`).
    claim_timeout: float = Field(default=120.0, gt=0)
    #: Seconds a ``queued`` email may wait past its due time before the sweeper republishes it.
    sweep_after: float = Field(default=60.0, gt=0)
    #: Seconds between two sweeps.
    sweep_interval: float = Field(default=15.0, gt=0)

    #: Timeouts of one provider call, in seconds: opening a connection, each wait for the
    #: provider (a free pooled connection, a read), and the whole call from start to end.
    provider_connect_timeout: float = Field(default=5.0, gt=0)
    provider_timeout: float = Field(default=20.0, gt=0)
    provider_total_timeout: float = Field(default=30.0, gt=0)

    #: Connect and read timeout of one call to the shared health board's Redis, in seconds:
    #: short, so a dead Redis never stalls a delivery.
    redis_timeout: float = Field(default=0.25, gt=0)
    #: Seconds a worker works from its own memory, and the API lets requests pass without rate
    #: limits, after Redis failed before trying it again.
    redis_retry_interval: float = Field(default=2.0, gt=0)

    #: ``classic`` for a single RabbitMQ, ``quorum`` wherever RabbitMQ runs as a cluster: a
    #: classic queue lives on one node and dies with it. RabbitMQ only.
    queue_type: QueueType = QueueType.CLASSIC

    #: Threads of one worker process: emails in flight at once per process.
    worker_concurrency: int = Field(default=128, ge=1, le=1024)
    #: The port a worker serves its Prometheus metrics on (``/metrics``); unset: none.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: A worker exporter's URL whose ``micromailer_*`` metrics the API adds to its own
    #: ``GET /metrics``; ``micromailer run`` sets it for its worker. Unset: none.
    worker_metrics_url: str | None = None

    #: How providers are ranked (``MICROMAILER_STRATEGY``): ``breaker`` (default), ``original``
    #: or ``priority``; see docs/selection.md.
    strategy: str = DEFAULT_STRATEGY

    #: The fake providers (``MICROMAILER_SANDBOX_URL``). Setting it asks for sandbox mode when
    #: no provider has credentials; ``micromailer run`` sets it for the sandbox it starts.
    sandbox_url: str | None = None

    max_body_bytes: int = 1024 * 1024

    #: ``json`` or ``console``; unset: ``json`` for the services (``serve``, ``worker``,
    #: ``sandbox``), ``console`` for ``run`` and the other commands (docs/operations.md).
    log_format: str | None = None

    # -- security (docs/security.md) ------------------------------------------------------

    #: Ask for an API key on every API request even while no key exists; with at least one
    #: key, authentication is on anyway.
    require_auth: bool = False
    #: Each API key's request budget, in the ``limits`` library's syntax (``100/second``,
    #: ``1000 per hour``); unset: no limit. A key made with ``--rate`` has its own.
    rate_limit: str | None = None
    #: ``Host`` names the API answers, comma-separated (``*.example.com`` for subdomains);
    #: ``*`` for any. Default: the localhost names and the bind address.
    allowed_hosts: str | None = None
    #: Other sites' origins (``https://app.example``) allowed to call the API from a browser,
    #: comma-separated; they alone get CORS answers. Default: none.
    allowed_origins: str | None = None
    #: Proxies (addresses or networks, comma-separated) whose ``X-Forwarded-For`` names the
    #: client; default: none.
    trusted_proxies: str | None = None
    #: The address the API listens on, set by ``serve`` and ``run``: a ``Host`` allowed by
    #: default.
    bind_host: str | None = None
    #: Days the audit log keeps an event.
    audit_retention_days: int = Field(default=90, ge=1)
    #: Seconds an ``Idempotency-Key`` replays its first answer.
    idempotency_ttl: float = Field(default=24 * 3600.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, and ``<NAME>_FILE`` for each :data:`Credential` or
        :data:`SecretUrl`, before the environment: it refuses a value also set there, and so
        wins only over an empty one (as compose's ``${SENDGRID_API_KEY:-}`` passes)."""
        return (init_settings, SecretFileSettingsSource(settings_cls), env_settings,
                dotenv_settings, file_secret_settings)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_host_patterns(value)
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str | None) -> str | None:
        parse_origins(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        parse_trusted_proxies(value)
        return value

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        unknown = [name for name in _split(value) if name not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(
                f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(KNOWN_PROVIDERS)}"
            )
        return value

    @field_validator("rate_limit")
    @classmethod
    def _parsable_rate_limit(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from micromailer.security.rate_policy import parse_rate_limit  # loads `limits`

        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"MICROMAILER_RATE_LIMIT: {exc}") from None
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        name = value.strip().lower()
        if name not in LOG_FORMATS:
            raise ValueError(f"unknown log format {value!r}; known: {', '.join(LOG_FORMATS)}")
        return name

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        name = value.strip().lower()
        if name not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {value!r}; known: {', '.join(STRATEGY_NAMES)}")
        return name

    @model_validator(mode="after")
    def _quorum_queue_on_rabbitmq(self) -> Settings:
        if self.queue_type is QueueType.QUORUM and not self.celery_broker_url.startswith(
            ("amqp", "pyamqp")
        ):
            raise ValueError(
                "MICROMAILER_QUEUE_TYPE=quorum needs RabbitMQ: set MICROMAILER_BROKER_URL to "
                "an amqp:// URL, or leave the queue type classic"
            )
        return self

    # -- derived values -------------------------------------------------------------

    @property
    def store_url(self) -> str:
        return normalize_database_url(
            self.database_url or f"sqlite:///{self.data_dir}/micromailer.sqlite3"
        )

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir}/broker.sqlite3"

    @property
    def lease_seconds(self) -> float:
        """How long a claim holds an email: one attempt tries every configured provider at
        most once, each try ends within ``provider_total_timeout``, so the lease outlasts them
        all (plus :data:`LEASE_MARGIN`) and no other worker sends the email meanwhile. Never
        less than ``claim_timeout``."""
        tries = len(self.provider_names()) * self.provider_total_timeout
        return max(self.claim_timeout, tries + LEASE_MARGIN)

    @property
    def has_credentials(self) -> bool:
        """True when at least one provider has credentials."""
        return any(self.api_key(name) is not None for name in KNOWN_PROVIDERS)

    @property
    def sandbox_mode(self) -> bool:
        """True when the sandbox is asked for and no provider has credentials: deliver to the
        fake providers at :attr:`sandbox_url`. Never fallen into without asking."""
        return self.sandbox_url is not None and not self.has_credentials

    def unconfigured_reason(self) -> str | None:
        """Why these settings can deliver no email, in one sentence; ``None`` when a provider
        has credentials or the sandbox is asked for."""
        if self.has_credentials or self.sandbox_mode:
            return None
        keys = " or ".join(f"{name.upper()}_API_KEY" for name in KNOWN_PROVIDERS)
        return (
            f"No email provider is configured: set {keys} to deliver for real, or set "
            "MICROMAILER_SANDBOX_URL to the fake providers of `micromailer sandbox` to deliver "
            "to nobody."
        )

    def api_key(self, provider: str) -> SecretStr | None:
        key: SecretStr | None = getattr(self, f"{provider}_api_key")
        return key if key is not None and key.get_secret_value() else None

    def base_url(self, provider: str) -> str:
        if self.sandbox_url is not None and self.sandbox_mode:
            return self.sandbox_url
        url: str = getattr(self, f"{provider}_base_url")
        return url

    def provider_names(self) -> list[str]:
        """Configured providers, most preferred first; without credentials every known one,
        as the sandbox fakes them."""
        if self.providers:
            return _split(self.providers)
        if not self.has_credentials:
            return list(KNOWN_PROVIDERS)
        return [name for name in KNOWN_PROVIDERS if self.api_key(name) is not None]

    def provider_api_key(self, provider: str) -> str:
        key = self.api_key(provider)
        if key is None:
            return SANDBOX_API_KEY if self.sandbox_mode else ""
        return key.get_secret_value()


def normalize_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean PostgreSQL through psycopg 3."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _split(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


__all__ = [
    "DEFAULT_SANDBOX_PORT",
    "DEFAULT_STRATEGY",
    "KNOWN_PROVIDERS",
    "LEASE_MARGIN",
    "LOG_FORMATS",
    "SANDBOX_API_KEY",
    "STRATEGY_NAMES",
    "Credential",
    "QueueType",
    "SecretUrl",
    "Settings",
    "normalize_database_url",
]
