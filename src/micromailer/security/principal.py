"""Who a request acts for: an API key's name, project, scope and test flag, or no one.

The gate (``api/gate.py``) decides it once per request and keeps it in the ASGI scope; routes
and the intake read it back with :func:`principal_of`. A request that reached a route without
one is a bug, never an anonymous pass: :func:`principal_of` raises.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

SCOPES = ("send", "admin")

_SCOPE_KEY = "micromailer.principal"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an API key, or :data:`OPEN` when authentication is off."""

    #: The key's name; ``None`` when authentication is off.
    key_name: str | None
    #: The key's project; ``None`` when authentication is off (emails of no project).
    project: str | None
    #: Sees every project, the sandbox controls and ``/metrics``.
    admin: bool
    #: A test key: its emails only ever reach the sandbox fakes.
    test: bool = False
    #: The key's own rate limit (``limits`` syntax); ``None``: ``MICROMAILER_RATE_LIMIT``.
    rate_limit: str | None = None

    def sees(self, project: str | None) -> bool:
        """Whether an email of ``project`` is visible to this caller."""
        return self.admin or project == self.project


#: Authentication is off: every request may do everything, as before keys existed.
OPEN = Principal(key_name=None, project=None, admin=True)


def set_principal(scope: MutableMapping[str, Any], principal: Principal) -> None:
    scope[_SCOPE_KEY] = principal


def principal_of(scope: MutableMapping[str, Any]) -> Principal:
    """The principal the gate set on ``scope``; raises ``LookupError`` when it set none."""
    principal = scope.get(_SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise LookupError("no principal on this request: it did not pass the security gate")
    return principal


__all__ = ["OPEN", "SCOPES", "Principal", "principal_of", "set_principal"]
