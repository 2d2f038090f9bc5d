"""The simulator's reserved recipients: which addresses they are, that validation takes exactly
them under ``.test``, and the one rule every fake applies (``sandbox/simulator.py``)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from micromailer.api.request_schema import ADDRESS_PATTERN
from micromailer.domain.simulator import (
    SIMULATOR_DOMAIN,
    ReservedRecipient,
    is_simulator_address,
    reserved_recipient,
)
from micromailer.domain.validation import InvalidEmailRequest, parse_email_request
from micromailer.sandbox.simulator import Simulation, simulate

RESERVED = [recipient.address for recipient in ReservedRecipient]


def test_the_six_reserved_recipients_and_their_addresses() -> None:
    assert RESERVED == [
        "delivered@simulator.micromailer.test",
        "temp-fail@simulator.micromailer.test",
        "perm-fail@simulator.micromailer.test",
        "slow@simulator.micromailer.test",
        "bounce@simulator.micromailer.test",
        "complain@simulator.micromailer.test",
    ]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("delivered@simulator.micromailer.test", ReservedRecipient.DELIVERED),
        ("Temp-Fail@SIMULATOR.micromailer.test", ReservedRecipient.TEMP_FAIL),
        ("anyone@simulator.micromailer.test", None),
        ("perm-fail@example.com", None),
        ("perm-fail@sub.simulator.micromailer.test", None),
        ("perm-fail", None),
    ],
)
def test_reserved_recipient_reads_the_address_without_case(
    address: str, expected: ReservedRecipient | None
) -> None:
    assert reserved_recipient(address) is expected


@pytest.mark.parametrize("address", [*RESERVED, "Slow@Simulator.Micromailer.Test"])
def test_validation_and_the_openapi_pattern_accept_the_reserved_recipients(address: str) -> None:
    request = parse_email_request({"to": address, "subject": "s", "content": "c"})

    assert is_simulator_address(request.to[0].email)
    assert re.search(ADDRESS_PATTERN, address)


@pytest.mark.parametrize(
    "address",
    ["someone@example.test", "x@other.micromailer.test", f"x@a.{SIMULATOR_DOMAIN}",
     f"x@{SIMULATOR_DOMAIN}.invalid", "x@localhost.localhost"],
)
def test_every_other_special_use_domain_is_still_refused_by_both(address: str) -> None:
    with pytest.raises(InvalidEmailRequest):
        parse_email_request({"to": address, "subject": "s", "content": "c"})
    assert not re.search(ADDRESS_PATTERN, address)


def test_simulate_leaves_ordinary_delivered_bounce_and_complain_recipients_alone() -> None:
    """``bounce@`` and ``complain@`` are accepted: their outcome comes later, as events."""
    simulation = asyncio.run(simulate([
        "a@example.com", ReservedRecipient.DELIVERED.address, ReservedRecipient.BOUNCE.address,
        ReservedRecipient.COMPLAIN.address,
    ]))

    assert simulation == Simulation()


def test_simulate_names_each_refused_recipient_and_a_temp_fail_spoils_the_request() -> None:
    simulation = asyncio.run(simulate([
        "a@example.com", "PERM-FAIL@simulator.micromailer.test",
        ReservedRecipient.TEMP_FAIL.address,
    ]))

    assert simulation.unavailable
    assert simulation.refuses(ReservedRecipient.PERM_FAIL.address)
    assert not simulation.refuses("a@example.com")


def test_simulate_waits_before_answering_for_slow() -> None:
    started = time.monotonic()

    simulation = asyncio.run(simulate([ReservedRecipient.SLOW.address], slow_seconds=0.2))

    assert time.monotonic() - started >= 0.2
    assert simulation == Simulation()
