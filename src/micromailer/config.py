"""Settings, read from the environment (prefix ``MICROMAILER_``) by pydantic-settings.

Nothing here is built at import time: callers make a ``Settings()`` and pass it on.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from micromailer.callbacks.schedule import parse_retry_schedule
from micromailer.secret_files import FROM_FILE, SecretFileSettingsSource
from micromailer.security.hosts import parse_host_patterns
from micromailer.security.origins import parse_origins
from micromailer.security.proxies import parse_trusted_proxies

#: Every provider micromailer knows, in default preference order (DESIGN.md's table: sendgrid,
#: mandrill, mailgun, postmark, ses, sparkpost, brevo, resend, smtp).
KNOWN_PROVIDERS: tuple[str, ...] = (
    "sendgrid", "mandrill", "mailgun", "postmark", "ses", "sparkpost", "brevo", "resend", "smtp",
)

#: Provider → the setting whose value enables it: its credential (SES takes its credentials
#: from botocore's chain, so its region enables it; SMTP's URL carries its login).
ENABLING_SETTINGS: dict[str, str] = {
    "sendgrid": "sendgrid_api_key",
    "mandrill": "mandrill_api_key",
    "mailgun": "mailgun_api_key",
    "postmark": "postmark_server_token",
    "ses": "ses_region",
    "sparkpost": "sparkpost_api_key",
    "brevo": "brevo_api_key",
    "resend": "resend_api_key",
    "smtp": "smtp_url",
}

#: Provider → what a user sets to enable it, in words.
ENABLING_VARIABLES: dict[str, str] = {
    "sendgrid": "SENDGRID_API_KEY",
    "mandrill": "MANDRILL_API_KEY",
    "mailgun": "MAILGUN_API_KEY with MAILGUN_DOMAIN",
    "postmark": "POSTMARK_SERVER_TOKEN",
    "ses": "MICROMAILER_SES_REGION",
    "sparkpost": "SPARKPOST_API_KEY",
    "brevo": "BREVO_API_KEY",
    "resend": "RESEND_API_KEY",
    "smtp": "MICROMAILER_SMTP_URL",
}

#: The settings of the providers' event webhooks (``webhooks/<provider>.py``).
WEBHOOK_SETTINGS: tuple[str, ...] = (
    "sendgrid_webhook_public_key", "mandrill_webhook_key", "mandrill_webhook_url",
    "mailgun_webhook_signing_key",
    "postmark_webhook_username", "postmark_webhook_password", "postmark_webhook_token",
    "ses_sns_topic_arn",
    "sparkpost_webhook_username", "sparkpost_webhook_password", "sparkpost_webhook_token",
    "brevo_webhook_username", "brevo_webhook_password", "brevo_webhook_token",
    "resend_webhook_secret",
)

#: Real API origins by provider and region (``MAILGUN_REGION``, ``SPARKPOST_REGION``).
REGIONAL_BASE_URLS: dict[str, dict[str, str]] = {
    "mailgun": {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"},
    "sparkpost": {"us": "https://api.sparkpost.com", "eu": "https://api.eu.sparkpost.com"},
}

#: The Mailgun domain and SES region the sandbox's fakes are reached with when none is set.
SANDBOX_MAILGUN_DOMAIN = "sandbox.micromailer.test"
SANDBOX_SES_REGION = "us-east-1"

#: Bytes a request body may hold beyond its message's encoded size: JSON and multipart
#: framing, field names, base64's line breaks.
BODY_MARGIN_BYTES = 256 * 1024

#: Key the sandbox's fakes accept, used in sandbox mode.
SANDBOX_API_KEY = "sandbox-key"

DEFAULT_SANDBOX_PORT = 8025
#: Seconds from a fake's acceptance to the events it sends back (``delivered``, then a
#: complaint as long again later): long enough for the worker to have recorded ``sent``.
DEFAULT_SANDBOX_EVENTS_DELAY = 2.0

#: Seconds a lease holds beyond its provider tries: the claim's and the outcome's commits, and
#: the event loop's own delays between them.
LEASE_MARGIN = 10.0

#: Every strategy the service can run (``MICROMAILER_STRATEGY``), the original first. Named
#: here, not in ``health``, so that settings never import the code they configure.
#: Providers with a test mode, the only ones a synthetic probe can reach without sending.
PROBE_PROVIDERS: tuple[str, ...] = ("sendgrid", "postmark", "mailgun")

STRATEGY_NAMES: tuple[str, ...] = ("original", "breaker", "priority")
#: The service's default: the one the simulation favours (docs/selection.md).
DEFAULT_STRATEGY = "breaker"

#: Seconds between the tries of a callback delivery (``MICROMAILER_CALLBACK_RETRY_SCHEDULE``):
#: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; the last try comes 27.6 h after the first.
DEFAULT_CALLBACK_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000"

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
#: A provider's region where it has more than one API origin.
Region = Literal["us", "eu"]
SecretUrl = Annotated[str | None, FROM_FILE]


class Settings(BaseSettings):
    """Every knob of micromailer. Names are part of the public contract (see DESIGN.md)."""

    # A refused value is never echoed in the error: many settings are secrets.
    model_config = SettingsConfigDict(
        env_prefix="MICROMAILER_", extra="ignore", hide_input_in_errors=True
    )

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
    mailgun_api_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("MAILGUN_API_KEY", "MICROMAILER_MAILGUN_API_KEY"),
    )
    mailgun_domain: str | None = Field(
        default=None, validation_alias=AliasChoices("MAILGUN_DOMAIN", "MICROMAILER_MAILGUN_DOMAIN")
    )
    mailgun_region: Region = Field(
        default="us", validation_alias=AliasChoices("MAILGUN_REGION", "MICROMAILER_MAILGUN_REGION")
    )
    postmark_server_token: Credential = Field(
        default=None,
        validation_alias=AliasChoices("POSTMARK_SERVER_TOKEN", "MICROMAILER_POSTMARK_SERVER_TOKEN"),
    )
    #: SES's region enables it; its credentials come from botocore's usual chain
    #: (``AWS_ACCESS_KEY_ID``…, a profile, a role).
    ses_region: str | None = None
    sparkpost_api_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("SPARKPOST_API_KEY", "MICROMAILER_SPARKPOST_API_KEY"),
    )
    sparkpost_region: Region = Field(
        default="us",
        validation_alias=AliasChoices("SPARKPOST_REGION", "MICROMAILER_SPARKPOST_REGION"),
    )
    brevo_api_key: Credential = Field(
        default=None, validation_alias=AliasChoices("BREVO_API_KEY", "MICROMAILER_BREVO_API_KEY")
    )
    resend_api_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("RESEND_API_KEY", "MICROMAILER_RESEND_API_KEY"),
    )
    # -- the providers' event webhooks (docs/providers/<name>.md, "Events") ---------------

    #: SNS topics (ARNs, comma-separated) whose messages ``POST /webhooks/ses`` takes and
    #: whose subscriptions it confirms by itself; unset: any topic, confirmed by hand.
    ses_sns_topic_arn: str | None = None
    #: The Basic credentials, or the ``X-MessageSystems-Webhook-Token``, SparkPost's webhook
    #: is configured with.
    sparkpost_webhook_username: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SPARKPOST_WEBHOOK_USERNAME", "MICROMAILER_SPARKPOST_WEBHOOK_USERNAME"
        ),
    )
    sparkpost_webhook_password: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "SPARKPOST_WEBHOOK_PASSWORD", "MICROMAILER_SPARKPOST_WEBHOOK_PASSWORD"
        ),
    )
    sparkpost_webhook_token: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "SPARKPOST_WEBHOOK_TOKEN", "MICROMAILER_SPARKPOST_WEBHOOK_TOKEN"
        ),
    )
    #: The Basic credentials (in the webhook's URL), or the bearer token, Brevo's webhook is
    #: configured with.
    brevo_webhook_username: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "BREVO_WEBHOOK_USERNAME", "MICROMAILER_BREVO_WEBHOOK_USERNAME"
        ),
    )
    brevo_webhook_password: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "BREVO_WEBHOOK_PASSWORD", "MICROMAILER_BREVO_WEBHOOK_PASSWORD"
        ),
    )
    brevo_webhook_token: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "BREVO_WEBHOOK_TOKEN", "MICROMAILER_BREVO_WEBHOOK_TOKEN"
        ),
    )
    #: The signing secret (``whsec_…``) Resend shows for the webhook.
    resend_webhook_secret: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "RESEND_WEBHOOK_SECRET", "MICROMAILER_RESEND_WEBHOOK_SECRET"
        ),
    )
    #: SendGrid's verification key of its signed Event Webhook (base64 DER, as SendGrid shows
    #: it, or PEM). Not a secret, but read like one, so it may come from a file too.
    sendgrid_webhook_public_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "SENDGRID_WEBHOOK_PUBLIC_KEY", "MICROMAILER_SENDGRID_WEBHOOK_PUBLIC_KEY"
        ),
    )
    #: The key Mandrill shows for the webhook (its ``auth_key``): Mandrill signs with it.
    mandrill_webhook_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices("MANDRILL_WEBHOOK_KEY", "MICROMAILER_MANDRILL_WEBHOOK_KEY"),
    )
    #: The webhook's URL exactly as registered at Mandrill, which it signs; unset: the URL the
    #: request came to (set it behind a proxy that changes the scheme, host or path).
    mandrill_webhook_url: Credential = Field(
        default=None,
        validation_alias=AliasChoices("MANDRILL_WEBHOOK_URL", "MICROMAILER_MANDRILL_WEBHOOK_URL"),
    )
    #: Mailgun's HTTP webhook signing key (not the API key).
    mailgun_webhook_signing_key: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "MAILGUN_WEBHOOK_SIGNING_KEY", "MICROMAILER_MAILGUN_WEBHOOK_SIGNING_KEY"
        ),
    )
    #: The basic-auth credentials put in Postmark's webhook URL (``https://user:pass@…``).
    postmark_webhook_username: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "POSTMARK_WEBHOOK_USERNAME", "MICROMAILER_POSTMARK_WEBHOOK_USERNAME"
        ),
    )
    postmark_webhook_password: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "POSTMARK_WEBHOOK_PASSWORD", "MICROMAILER_POSTMARK_WEBHOOK_PASSWORD"
        ),
    )
    #: A secret Postmark sends in the custom header ``X-Micromailer-Webhook-Token``, beside or
    #: instead of the basic-auth credentials.
    postmark_webhook_token: Credential = Field(
        default=None,
        validation_alias=AliasChoices(
            "POSTMARK_WEBHOOK_TOKEN", "MICROMAILER_POSTMARK_WEBHOOK_TOKEN"
        ),
    )

    #: ``smtp://user:pass@host:587`` (STARTTLS) or ``smtps://user:pass@host:465`` (TLS).
    smtp_url: SecretUrl = None
    #: A CA certificate file (PEM) trusted for the SMTP server's certificate.
    smtp_ca_file: Path | None = None

    sendgrid_base_url: str = "https://api.sendgrid.com"
    mandrill_base_url: str = "https://mandrillapp.com"
    #: Unset: the real API of the provider's region.
    mailgun_base_url: str | None = None
    postmark_base_url: str = "https://api.postmarkapp.com"
    #: Unset: ``https://email.{region}.amazonaws.com``.
    ses_base_url: str | None = None
    sparkpost_base_url: str | None = None
    brevo_base_url: str = "https://api.brevo.com"
    resend_base_url: str = "https://api.resend.com"

    sender_email: str = "no-reply@localhost"
    sender_name: str = "micromailer"
    #: Domains a request's own ``from`` may use, comma-separated; unset: the default
    #: sender's domain only.
    sender_domains: str | None = None

    #: Largest message, attachments included, as sent (base64): 10 MiB.
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    #: Most recipients of one message, ``to``, ``cc`` and ``bcc`` together.
    max_recipients: int = Field(default=1000, ge=1, le=10_000)

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

    #: Seconds between two rounds of synthetic probes (test-mode requests that send nothing,
    #: ``delivery/probes.py``); 0 turns them off.
    probe_interval: float = Field(default=0.0, ge=0)
    #: Providers probed, comma-separated; only those with a test mode (:data:`PROBE_PROVIDERS`).
    probe_providers: str | None = None

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
    #: The service's origin the sandbox fakes send their providers' signed events to
    #: (``<url>/webhooks/<provider>``), for ``micromailer sandbox`` and the fakes a worker
    #: starts for test keys; ``micromailer run`` sets it to its own API. Unset: no events.
    sandbox_events_url: str | None = None
    #: Seconds from a fake's acceptance to its first event (docs/sandbox.md).
    sandbox_events_delay: float = Field(default=DEFAULT_SANDBOX_EVENTS_DELAY, ge=0, le=3600)

    #: Largest request body; unset (0): follows ``max_message_bytes`` (base64 makes a message
    #: a third larger, plus :data:`BODY_MARGIN_BYTES`).
    max_body_bytes: int = Field(default=0, ge=0)

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

    # -- callbacks to the client (docs/callbacks.md) ------------------------------------

    #: Let callback URLs reach loopback, private, link-local and other non-public addresses
    #: (a receiver on the same machine or network); off, they are refused (no SSRF).
    callback_allow_private: bool = False
    #: Seconds between the tries of one callback delivery, comma-separated; after the last,
    #: ``failed``. The default spans more than 24 hours (8 tries).
    callback_retry_schedule: str = DEFAULT_CALLBACK_RETRY_SCHEDULE
    #: Seconds one callback POST may take in all (connecting included).
    callback_timeout: float = Field(default=10.0, gt=0, le=60)

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

    @field_validator("sandbox_events_url")
    @classmethod
    def _events_origin(cls, value: str | None) -> str | None:
        url = (value or "").strip()
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                "MICROMAILER_SANDBOX_EVENTS_URL must be the service's http:// or https:// URL, "
                "such as http://127.0.0.1:8000"
            )
        return url.rstrip("/")

    @field_validator("callback_retry_schedule")
    @classmethod
    def _parsable_retry_schedule(cls, value: str) -> str:
        parse_retry_schedule(value)
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

    @model_validator(mode="after")
    def _webhook_secrets(self) -> Settings:
        """Checked on the whole settings, so that an error never quotes the secret."""
        key = self.sendgrid_webhook_public_key
        if key is not None and key.get_secret_value().strip():
            from micromailer.webhooks.sendgrid_key import load_public_key  # loads cryptography

            try:
                load_public_key(key.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEY is {exc}") from None
        url = self.mandrill_webhook_url
        if url is not None and url.get_secret_value().strip() and not (
            url.get_secret_value().strip().startswith(("https://", "http://"))
        ):
            raise ValueError(
                "MANDRILL_WEBHOOK_URL must be the webhook's full URL as registered at Mandrill, "
                "starting with https://"
            )
        password = self.postmark_webhook_password
        given = [bool(self.postmark_webhook_username), bool(
            password is not None and password.get_secret_value())]
        if any(given) and not all(given):
            raise ValueError(
                "POSTMARK_WEBHOOK_USERNAME and POSTMARK_WEBHOOK_PASSWORD go together: set both "
                "(the credentials in Postmark's webhook URL), or neither"
            )
        return self

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

    @field_validator("probe_providers")
    @classmethod
    def _probe_providers_have_test_modes(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        other = [name for name in _split(value) if name not in PROBE_PROVIDERS]
        if other:
            raise ValueError(
                f"MICROMAILER_PROBE_PROVIDERS names {', '.join(other)}: only "
                f"{', '.join(PROBE_PROVIDERS)} have a test mode that probes without sending"
            )
        return value

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

    @field_validator(*WEBHOOK_SETTINGS, mode="before")
    @classmethod
    def _empty_webhook_setting_is_unset(cls, value: object) -> object:
        """An empty value is unset, as compose's ``${NAME:-}`` passes it."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _webhook_passwords_have_users(self) -> Settings:
        for provider in ("sparkpost", "brevo"):
            password = getattr(self, f"{provider}_webhook_password")
            if password is not None and not getattr(self, f"{provider}_webhook_username"):
                name = provider.upper()
                raise ValueError(
                    f"{name}_WEBHOOK_PASSWORD is set without {name}_WEBHOOK_USERNAME: set the "
                    "user name the webhook's Basic credentials carry, or leave both unset"
                )
        return self

    @field_validator("resend_webhook_secret")
    @classmethod
    def _resend_secret_is_base64(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        encoded = value.get_secret_value().strip().removeprefix("whsec_")
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            decoded = b""
        if not decoded:
            raise ValueError(
                "RESEND_WEBHOOK_SECRET is not a signing secret: copy the whole whsec_… value "
                "from the webhook's page in Resend"
            )
        return value

    # -- derived values -------------------------------------------------------------

    @model_validator(mode="after")
    def _body_limit_follows_message_limit(self) -> Settings:
        if not self.max_body_bytes:
            self.max_body_bytes = body_limit(self.max_message_bytes)
        return self

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
        return any(self.enabled(name) for name in KNOWN_PROVIDERS)

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
        keys = ", ".join(ENABLING_VARIABLES[name] for name in KNOWN_PROVIDERS)
        return (
            f"No email provider is configured: set one of {keys} to deliver for real, or set "
            "MICROMAILER_SANDBOX_URL to the fake providers of `micromailer sandbox` to deliver "
            "to nobody."
        )

    def enabled(self, provider: str) -> bool:
        """Whether ``provider``'s credentials are set (Mailgun needs its domain as well)."""
        value = getattr(self, ENABLING_SETTINGS[provider])
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if provider == "mailgun" and not self.mailgun_domain:
            return False
        return bool(value)

    def base_url(self, provider: str) -> str:
        """Where ``provider``'s adapter sends: the sandbox in sandbox mode, else the override,
        else the provider's real API (of its region). For SMTP, the server's URL without its
        login."""
        if self.sandbox_url is not None and self.sandbox_mode:
            return self.sandbox_url
        if provider == "smtp":
            return _without_userinfo(self.provider_secret("smtp"))
        url: str | None = getattr(self, f"{provider}_base_url")
        if url:
            return url
        if provider == "ses":
            return f"https://email.{self.ses_region or SANDBOX_SES_REGION}.amazonaws.com"
        region = getattr(self, f"{provider}_region")
        return REGIONAL_BASE_URLS[provider][region]

    def provider_names(self) -> list[str]:
        """Configured providers, most preferred first; without credentials every known one,
        as the sandbox fakes them."""
        if self.providers:
            return _split(self.providers)
        if not self.has_credentials:
            return list(KNOWN_PROVIDERS)
        return [name for name in KNOWN_PROVIDERS if self.enabled(name)]

    def provider_secret(self, provider: str) -> str:
        """``provider``'s credential (an API key, a token, SMTP's URL with its login; ``""`` for
        SES, whose credentials botocore finds); the sandbox's key in sandbox mode."""
        if self.sandbox_mode:
            return SANDBOX_API_KEY
        if provider == "ses":
            return ""
        value = getattr(self, ENABLING_SETTINGS[provider])
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        return value or ""

    def provider_options(self, provider: str) -> dict[str, str]:
        """``provider``'s settings besides its key and URL: Mailgun's domain, SES's region,
        SMTP's CA file."""
        if provider == "mailgun":
            return {"domain": self.mailgun_domain or SANDBOX_MAILGUN_DOMAIN}
        if provider == "ses":
            return {"region": self.ses_region or SANDBOX_SES_REGION}
        if provider == "smtp" and self.smtp_ca_file is not None:
            return {"ca_file": str(self.smtp_ca_file)}
        return {}

    def probed_providers(self) -> list[str]:
        """Providers the worker probes: none when :attr:`probe_interval` is 0, else those of
        ``probe_providers`` (by default every configured one with a test mode) that are
        configured."""
        if not self.probe_interval:
            return []
        configured = self.provider_names()
        wanted = _split(self.probe_providers) if self.probe_providers else list(PROBE_PROVIDERS)
        return [name for name in wanted if name in configured]

    def sender_domain_list(self) -> list[str]:
        """Domains a request's ``from`` may use: ``sender_domains``, else the default
        sender's."""
        if self.sender_domains:
            return _split(self.sender_domains)
        return [self.sender_email.rpartition("@")[2].lower()]


def body_limit(max_message_bytes: int) -> int:
    """The request body limit that a message limit implies (base64 plus a margin), rounded up
    to whole KiB so that a proxy's limit can say it exactly."""
    return -(-(max_message_bytes * 4 // 3 + BODY_MARGIN_BYTES) // 1024) * 1024


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def normalize_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean PostgreSQL through psycopg 3."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _split(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


__all__ = [
    "BODY_MARGIN_BYTES",
    "DEFAULT_CALLBACK_RETRY_SCHEDULE",
    "DEFAULT_SANDBOX_EVENTS_DELAY",
    "DEFAULT_SANDBOX_PORT",
    "DEFAULT_STRATEGY",
    "ENABLING_SETTINGS",
    "ENABLING_VARIABLES",
    "KNOWN_PROVIDERS",
    "LEASE_MARGIN",
    "LOG_FORMATS",
    "PROBE_PROVIDERS",
    "REGIONAL_BASE_URLS",
    "SANDBOX_API_KEY",
    "SANDBOX_MAILGUN_DOMAIN",
    "SANDBOX_SES_REGION",
    "STRATEGY_NAMES",
    "WEBHOOK_SETTINGS",
    "Credential",
    "QueueType",
    "SecretUrl",
    "Settings",
    "body_limit",
    "normalize_database_url",
]
