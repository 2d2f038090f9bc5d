"""The simulator's reserved recipients: addresses whose outcome is fixed in advance.

Integration tests send to them through the sandbox fakes (sandbox mode, or any email sent with
a test key) to get each outcome on demand: ``sandbox/simulator.py`` makes every fake answer
them, ``sandbox/event_plan.py`` report their events after acceptance. The domain is
``.test``, reserved by RFC 2606: no real mailbox can ever be behind it.
"""

from __future__ import annotations

from enum import StrEnum

#: The domain of every reserved recipient.
SIMULATOR_DOMAIN = "simulator.micromailer.test"


class ReservedRecipient(StrEnum):
    """The local part of a reserved recipient, and what the fakes do with it."""

    #: Accepted at once.
    DELIVERED = "delivered"
    #: Every provider fails for now (a 503): the email is retried, then ``failed``.
    TEMP_FAIL = "temp-fail"
    #: The recipient is refused for good: ``failed`` at once.
    PERM_FAIL = "perm-fail"
    #: The provider answers after a few seconds, then accepts.
    SLOW = "slow"
    #: Accepted, then reported back as a hard bounce (no such mailbox): ``bounced``.
    BOUNCE = "bounce"
    #: Accepted, reported delivered, then marked as spam by its reader: ``complained``.
    COMPLAIN = "complain"

    @property
    def address(self) -> str:
        return f"{self.value}@{SIMULATOR_DOMAIN}"


def is_simulator_address(address: str) -> bool:
    """Whether ``address`` is at :data:`SIMULATOR_DOMAIN` (any local part, any case)."""
    _, at, domain = address.rpartition("@")
    return bool(at) and domain.lower() == SIMULATOR_DOMAIN


def reserved_recipient(address: str) -> ReservedRecipient | None:
    """The reserved recipient ``address`` is, compared without case; ``None`` for any other."""
    local, at, domain = address.rpartition("@")
    if not at or domain.lower() != SIMULATOR_DOMAIN:
        return None
    try:
        return ReservedRecipient(local.lower())
    except ValueError:
        return None


__all__ = ["SIMULATOR_DOMAIN", "ReservedRecipient", "is_simulator_address", "reserved_recipient"]
