"""Credentials a provider's webhook sends in its headers, for providers that sign nothing
(SparkPost, Brevo): HTTP Basic, or a token in a header, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from micromailer.webhooks.base import Unverified


@dataclass(frozen=True, slots=True)
class HeaderCredentials:
    """What a request must carry: Basic ``username:password``, or ``token`` in
    ``token_header`` (after ``token_prefix``, such as ``"Bearer "``), or either when both are
    set. At least one must be set."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    #: Lower case, as :class:`~micromailer.webhooks.base.WebhookRequest` names headers.
    token_header: str = "authorization"
    token_prefix: str = "Bearer "

    def __post_init__(self) -> None:
        if self.username is None and not self.token:
            raise ValueError("webhook credentials need a username or a token")

    def check(self, headers: Mapping[str, str]) -> None:
        """Pass when ``headers`` carry a configured credential; :class:`Unverified` saying which
        is missing or wrong otherwise (never the values)."""
        if self.username is not None and _basic(headers) is not None:
            if self._basic_matches(headers):
                return
            raise Unverified("wrong Basic credentials")
        if self.token and self.token_header in headers:
            if self._token_matches(headers[self.token_header]):
                return
            raise Unverified(f"wrong token in {self.token_header}")
        wanted = [
            name for name, on in (("Basic credentials", self.username is not None),
                                  (f"a token in {self.token_header}", bool(self.token))) if on
        ]
        raise Unverified(f"the request carries no {' or '.join(wanted)}")

    def _basic_matches(self, headers: Mapping[str, str]) -> bool:
        pair = _basic(headers)
        if pair is None or self.username is None:
            return False
        user, password = pair
        same_user = hmac.compare_digest(user.encode(), self.username.encode())
        same_password = hmac.compare_digest(password.encode(), (self.password or "").encode())
        return same_user & same_password

    def _token_matches(self, value: str) -> bool:
        prefix, token = self.token_prefix, value.strip()
        if prefix:
            if token[: len(prefix)].lower() != prefix.lower():
                return False
            token = token[len(prefix):].strip()
        return hmac.compare_digest(token.encode(), (self.token or "").encode())


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The ``Authorization: Basic`` user and password, ``None`` without a readable pair."""
    scheme, _, encoded = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 4096:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def basic_header(username: str, password: str) -> str:
    """The ``Authorization`` value of Basic ``username:password``."""
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


__all__ = ["HeaderCredentials", "basic_header"]
