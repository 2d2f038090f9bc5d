"""Every provider's webhook, and which of them this deployment verifies.

A provider's events are checked against its real secret when one is set, and against the
sandbox's key material (public: it is in this repository) otherwise or when that fails. Events
verified only by the sandbox's keys may move only emails that went to the sandbox fakes
(sandbox mode or a test key), so nobody can forge a real email's events with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from micromailer.config import Settings
from micromailer.domain.events import ProviderEvent
from micromailer.webhooks import (
    brevo,
    mailgun,
    mandrill,
    postmark,
    resend,
    sendgrid,
    ses,
    sparkpost,
)
from micromailer.webhooks.base import Unverified, WebhookRequest, WebhookScheme


@dataclass(frozen=True, slots=True)
class ProviderWebhook:
    """How to build one provider's schemes."""

    #: From the provider's webhook secret in the settings; ``None`` when it is not set.
    real: Callable[[Settings], WebhookScheme | None]
    #: With the key material the sandbox's fake signs its events with.
    sandbox: Callable[[], WebhookScheme]


#: Every provider that has a webhook module, by name.
WEBHOOKS: dict[str, ProviderWebhook] = {
    "sendgrid": ProviderWebhook(real=sendgrid.real, sandbox=sendgrid.sandbox),
    "mandrill": ProviderWebhook(real=mandrill.real, sandbox=mandrill.sandbox),
    "mailgun": ProviderWebhook(real=mailgun.real, sandbox=mailgun.sandbox),
    "postmark": ProviderWebhook(real=postmark.real, sandbox=postmark.sandbox),
    "ses": ProviderWebhook(real=ses.real, sandbox=ses.sandbox),
    "sparkpost": ProviderWebhook(real=sparkpost.real, sandbox=sparkpost.sandbox),
    "brevo": ProviderWebhook(real=brevo.real, sandbox=brevo.sandbox),
    "resend": ProviderWebhook(real=resend.real, sandbox=resend.sandbox),
}


@dataclass(frozen=True, slots=True)
class Received:
    """A verified request's events; ``sandbox`` when only the sandbox's keys verified it."""

    events: list[ProviderEvent]
    sandbox: bool


class WebhookVerifiers:
    """The schemes of every provider, built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._real = {name: hook.real(settings) for name, hook in WEBHOOKS.items()}
        self._sandbox = {name: hook.sandbox() for name, hook in WEBHOOKS.items()}

    def knows(self, provider: str) -> bool:
        return provider in self._sandbox

    @property
    def names(self) -> list[str]:
        """The providers with a webhook, in name order."""
        return sorted(self._sandbox)

    def receive(self, provider: str, request: WebhookRequest, now: datetime) -> Received:
        """The request's events; raises ``Unverified`` when no scheme of ``provider`` verifies it
        (the real one's reason when there is one) and ``Malformed`` for an unreadable body."""
        real = self._real[provider]
        if real is not None:
            try:
                return Received(real.receive(request, now), sandbox=False)
            except Unverified as refused:
                try:
                    return Received(self._sandbox[provider].receive(request, now), sandbox=True)
                except Unverified:
                    raise refused from None
        return Received(self._sandbox[provider].receive(request, now), sandbox=True)


__all__ = ["WEBHOOKS", "ProviderWebhook", "Received", "WebhookVerifiers"]
