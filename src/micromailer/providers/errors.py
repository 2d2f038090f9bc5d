"""The error taxonomy of provider calls.

::

    ProviderError                 a send did not succeed (carries provider, status, trimmed body)
     ├── TransientError           may pass: count against the provider's health, next provider,
     │    │                       retry later
     │    ├── ServerError         5xx
     │    ├── RateLimitedError    429 (with ``retry_after`` seconds when the provider says)
     │    ├── AuthError           401/403: bad or revoked credentials
     │    ├── AccountError        the account may not send: unpaid or locked (402), sender not
     │    │                       verified, the account's own rules
     │    ├── NetworkError        connection refused/reset, timeout
     │    └── RecipientDeferredError  the recipient is refused for now (soft bounce); not the
     │                            provider's fault: health untouched
     └── PermanentError           will not pass by retrying the same request
          ├── RequestRejectedError    4xx about the request: the next provider may accept it;
          │                           does not lower health
          └── RecipientRejectedError  the recipient is refused for good: the email is failed

    ConfigurationError            outside the send family: no retry loop swallows it

Adapters raise these; only ``delivery/`` decides what to do with them.
"""

from __future__ import annotations

_BODY_LIMIT = 300


def trim(body: str | bytes | None, limit: int = _BODY_LIMIT) -> str:
    """Shorten a provider's answer for logs and attempt records."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConfigurationError(Exception):
    """Micromailer is configured wrongly (unknown provider, missing credentials)."""


class ProviderError(Exception):
    """A provider did not accept the message."""

    #: Whether trying again later may succeed.
    transient: bool = False
    #: Whether the failure lowers the provider's health score.
    counts_against_health: bool = False

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.provider = provider
        self.reason = reason
        self.status_code = status_code
        self.body = trim(body)
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line for humans: ``sendgrid: HTTP 503: service unavailable``."""
        status = f"HTTP {self.status_code}: " if self.status_code is not None else ""
        return f"{self.provider}: {status}{self.reason}"


class TransientError(ProviderError):
    transient = True
    counts_against_health = True


class ServerError(TransientError):
    """The provider answered 5xx."""


class RateLimitedError(TransientError):
    """The provider answered 429; ``retry_after`` is how long it asked us to wait."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status_code: int | None = 429,
        body: str | bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(provider, reason, status_code=status_code, body=body)


class AuthError(TransientError):
    """The provider refused our credentials (401/403)."""


class AccountError(TransientError):
    """The provider will not send for this account or sender: billing, lock, unverified
    sender, a rule of the account. Like :class:`AuthError`, every email would meet it."""


class NetworkError(TransientError):
    """No usable answer: connection failed, reset or timed out."""


class RecipientDeferredError(TransientError):
    """The provider refuses the recipient for now (e.g. after soft bounces); later, or another
    provider, may deliver. The provider itself is healthy."""

    counts_against_health = False


class PermanentError(ProviderError):
    transient = False
    counts_against_health = False


class RequestRejectedError(PermanentError):
    """The provider refused this request as malformed; another provider may accept it."""


class RecipientRejectedError(PermanentError):
    """The provider refused the recipient for good (invalid, bounced, suppressed)."""


__all__ = [
    "AccountError",
    "AuthError",
    "ConfigurationError",
    "NetworkError",
    "PermanentError",
    "ProviderError",
    "RateLimitedError",
    "RecipientDeferredError",
    "RecipientRejectedError",
    "RequestRejectedError",
    "ServerError",
    "TransientError",
    "trim",
]
