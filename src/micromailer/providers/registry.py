"""Which adapter class serves which provider, and how adapters are built from settings."""

from __future__ import annotations

from typing import Any

import httpx

from micromailer import __version__
from micromailer.config import (
    ENABLING_VARIABLES,
    SANDBOX_API_KEY,
    SANDBOX_MAILGUN_DOMAIN,
    SANDBOX_SES_REGION,
    Settings,
)
from micromailer.providers.base import ProviderAdapter
from micromailer.providers.brevo import BrevoAdapter
from micromailer.providers.errors import ConfigurationError
from micromailer.providers.http import AiohttpSender, AsyncHttpSender, HttpSender
from micromailer.providers.mailgun import MailgunAdapter
from micromailer.providers.mandrill import MandrillAdapter
from micromailer.providers.postmark import PostmarkAdapter
from micromailer.providers.resend import ResendAdapter
from micromailer.providers.sendgrid import SendGridAdapter
from micromailer.providers.ses import SesAdapter
from micromailer.providers.smtp import SmtpAdapter
from micromailer.providers.sparkpost import SparkPostAdapter

#: Provider kind → adapter class. A new provider adds one line here.
ADAPTERS: dict[str, type[ProviderAdapter]] = {
    SendGridAdapter.kind: SendGridAdapter,
    MandrillAdapter.kind: MandrillAdapter,
    MailgunAdapter.kind: MailgunAdapter,
    PostmarkAdapter.kind: PostmarkAdapter,
    SesAdapter.kind: SesAdapter,
    SparkPostAdapter.kind: SparkPostAdapter,
    BrevoAdapter.kind: BrevoAdapter,
    ResendAdapter.kind: ResendAdapter,
    SmtpAdapter.kind: SmtpAdapter,
}

#: Connections one process keeps towards all providers together.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 50


def make_http_client(settings: Settings) -> httpx.Client:
    """A pooled, blocking HTTP client for adapters (tools and tests); close it when done.

    httpx bounds each phase of a call, not the whole: this client never sends for a worker,
    whose lease needs a total bound (:func:`make_async_http_client`)."""
    return httpx.Client(**_client_options(settings))


def make_async_http_client(settings: Settings) -> AiohttpSender:
    """The pooled client a worker's adapters share on its event loop; use it on that loop only.

    It sends through aiohttp directly, not ``httpx.AsyncClient``, whose pool and per-request
    steps cost the worker CPU (docs/performance.md); adapters still build ``httpx.Request``
    objects and read ``httpx.Response`` objects.
    """
    return AiohttpSender(
        timeout=settings.provider_timeout,
        connect_timeout=settings.provider_connect_timeout,
        total_timeout=settings.provider_total_timeout,
        headers=_default_headers(),
        max_connections=MAX_CONNECTIONS,
    )


def _client_options(settings: Settings) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(
            settings.provider_timeout, connect=settings.provider_connect_timeout
        ),
        "limits": httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
        ),
        "headers": _default_headers(),
    }


def _default_headers() -> dict[str, str]:
    return {"User-Agent": f"micromailer/{__version__}"}


def build_adapters(
    settings: Settings, client: HttpSender | AsyncHttpSender
) -> list[ProviderAdapter]:
    """One adapter per configured provider, most preferred first.

    Raises :class:`ConfigurationError` for a provider without an adapter or, outside sandbox
    mode, without its credentials.
    """
    adapters: list[ProviderAdapter] = []
    for name in settings.provider_names():
        adapter_class = adapter_class_for(name)
        if not settings.sandbox_mode and not settings.enabled(name):
            raise ConfigurationError(
                f"provider {name!r} is configured but has no credentials: set "
                f"{ENABLING_VARIABLES[name]}"
            )
        adapters.append(
            adapter_class(
                api_key=settings.provider_secret(name), base_url=settings.base_url(name),
                client=client, name=name, options=settings.provider_options(name),
            )
        )
    return adapters


def adapter_class_for(name: str) -> type[ProviderAdapter]:
    """The adapter class serving provider ``name``; raises :class:`ConfigurationError`."""
    adapter_class = ADAPTERS.get(name)
    if adapter_class is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigurationError(f"no adapter for provider {name!r}; known: {known}")
    return adapter_class


def build_sandbox_adapters(
    settings: Settings, client: HttpSender | AsyncHttpSender, sandbox_url: str
) -> list[ProviderAdapter]:
    """Test emails' adapters: one per configured provider, most preferred first, every one at
    the sandbox fakes (``sandbox_url``) with the sandbox's key; never a real base URL or key.
    """
    adapters: list[ProviderAdapter] = []
    for name in settings.provider_names():
        adapter_class = adapter_class_for(name)
        adapters.append(
            adapter_class(
                api_key=SANDBOX_API_KEY, base_url=sandbox_url, client=client, name=name,
                options=sandbox_options(name),
            )
        )
    return adapters


def sandbox_options(name: str) -> dict[str, str]:
    """The options an adapter needs to reach the sandbox's fake of ``name``."""
    if name == "mailgun":
        return {"domain": SANDBOX_MAILGUN_DOMAIN}
    if name == "ses":
        return {"region": SANDBOX_SES_REGION}
    return {}


__all__ = [
    "ADAPTERS",
    "MAX_CONNECTIONS",
    "MAX_KEEPALIVE_CONNECTIONS",
    "build_adapters",
    "build_sandbox_adapters",
    "make_async_http_client",
    "make_http_client",
    "sandbox_options",
]
