"""The reserved recipients' rule, the same in every fake: one call, then the fake's own format.

A fake calls :func:`simulate` with its request's recipients once the request is authorised and
valid: ``delivered`` is accepted; ``temp-fail`` refuses the whole request as unavailable
(``Simulation.unavailable``: its provider's 503); ``perm-fail`` refuses that recipient for good
(``Simulation.refuses``: its provider's answer for a rejected recipient); ``slow`` is answered
after :data:`SLOW_SECONDS`, then accepted. The addresses are ``domain/simulator.py``'s;
docs/security.md explains their use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from micromailer.domain.simulator import ReservedRecipient, reserved_recipient

#: How long a fake keeps a ``slow@`` recipient's request before answering.
SLOW_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Simulation:
    """What the reserved recipients of one request make the fake answer."""

    #: A ``temp-fail@`` recipient: answer the provider's 503, accept nothing.
    unavailable: bool = False
    #: The ``perm-fail@`` recipients, lower-cased: refuse each as the provider refuses a
    #: recipient.
    refused: frozenset[str] = frozenset()

    def refuses(self, address: str) -> bool:
        return address.lower() in self.refused


async def simulate(recipients: Iterable[str], slow_seconds: float = SLOW_SECONDS) -> Simulation:
    """Apply the reserved recipients among ``recipients``: wait first when one is ``slow@``,
    then say what the fake must answer. Other addresses change nothing."""
    reserved = {
        address.lower(): kind
        for address in recipients
        if (kind := reserved_recipient(address)) is not None
    }
    if ReservedRecipient.SLOW in reserved.values():
        await asyncio.sleep(slow_seconds)
    return Simulation(
        unavailable=ReservedRecipient.TEMP_FAIL in reserved.values(),
        refused=frozenset(
            address for address, kind in reserved.items() if kind is ReservedRecipient.PERM_FAIL
        ),
    )


__all__ = ["SLOW_SECONDS", "Simulation", "simulate"]
