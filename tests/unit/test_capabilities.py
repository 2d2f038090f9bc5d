"""What a provider can carry (``providers/capabilities.py``), the intake's limits
(``delivery/carriage.py``) and the dispatcher trying only providers able to carry a message."""

from __future__ import annotations

import pytest

from micromailer.delivery.carriage import Carriage, MessageRefused
from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.verdict import Delivered, Undeliverable
from micromailer.domain.message import Address, Attachment
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.original import OriginalStrategy
from micromailer.providers.capabilities import MIB, Capabilities, carriers, nobody_can_carry
from tests.support.fakes import FakeClock, ScriptedAdapter, accepted, make_message

PDF = Attachment("invoice.pdf", "application/pdf", b"%PDF" + bytes(100))
EXE = Attachment("setup.EXE", "application/octet-stream", b"MZ" + bytes(100))
LOGO = Attachment("logo.png", "image/png", bytes(50), content_id="logo")
MANY = tuple(Address(f"user{n}@example.com") for n in range(60))


def with_capabilities(capabilities: Capabilities) -> type[ScriptedAdapter]:
    return type("Limited", (ScriptedAdapter,), {"capabilities": capabilities})


@pytest.mark.parametrize(("capabilities", "message", "why"), [
    (Capabilities(max_recipients=50, max_bytes=MIB), make_message(to=MANY),
     "takes at most 50 recipients and this message has 60"),
    (Capabilities(max_recipients=10, max_bytes=MIB, cc_bcc=False),
     make_message(cc=(Address("c@example.com"),)), "cannot send cc or bcc recipients"),
    (Capabilities(max_recipients=10, max_bytes=10 * 1024),
     make_message(attachments=(Attachment("big.bin", "application/octet-stream",
                                          bytes(20 * 1024)),)),
     "takes messages up to 10 KiB and this one is about 29 KiB"),
    (Capabilities(max_recipients=10, max_bytes=MIB, attachments=False),
     make_message(attachments=(PDF,)), "cannot send attachments"),
    (Capabilities(max_recipients=10, max_bytes=MIB, inline_images=False),
     make_message(attachments=(LOGO,)), "cannot send inline images"),
    (Capabilities(max_recipients=10, max_bytes=MIB, blocked_extensions=frozenset({"exe"})),
     make_message(attachments=(PDF, EXE)), "refuses attachments such as 'setup.EXE'"),
    (Capabilities(max_recipients=10, max_bytes=MIB, allowed_extensions=frozenset({"png"})),
     make_message(attachments=(PDF,)), "refuses attachments such as 'invoice.pdf'"),
])
def test_each_limit_says_why_a_message_cannot_go(
    capabilities: Capabilities, message: object, why: str
) -> None:
    assert capabilities.refusal(message) == why  # type: ignore[arg-type]


def test_a_message_within_every_limit_can_go() -> None:
    capabilities = Capabilities(max_recipients=60, max_bytes=MIB,
                                blocked_extensions=frozenset({"exe"}))
    assert capabilities.refusal(make_message(to=MANY, attachments=(PDF, LOGO))) is None


def test_carriers_names_the_able_and_says_why_of_the_others() -> None:
    able, reasons = carriers(make_message(attachments=(EXE,)), [
        ("postmark", Capabilities(max_recipients=50, max_bytes=MIB,
                                  blocked_extensions=frozenset({"exe"}))),
        ("sendgrid", Capabilities(max_recipients=1000, max_bytes=MIB)),
    ])
    assert able == ["sendgrid"]
    assert reasons == ["postmark refuses attachments such as 'setup.EXE'"]


def test_the_carriage_refuses_over_its_own_limits_then_when_nobody_can_carry() -> None:
    carriage = Carriage(max_bytes=MIB, max_recipients=100, providers=[
        ("a", Capabilities(max_recipients=50, max_bytes=MIB)),
        ("b", Capabilities(max_recipients=40, max_bytes=MIB)),
    ])
    assert carriage.refusal(make_message(to=MANY[:50])) is None
    with pytest.raises(MessageRefused) as refused:
        carriage.check(make_message(to=MANY))
    assert str(refused.value) == nobody_can_carry([
        "a takes at most 50 recipients and this message has 60",
        "b takes at most 40 recipients and this message has 60",
    ])
    assert str(refused.value).startswith("No configured provider can carry this message: a ")
    over = carriage.refusal(make_message(to=MANY * 2))
    assert over is not None and "MICROMAILER_MAX_RECIPIENTS" in over


def test_failover_skips_a_provider_that_cannot_carry_the_message() -> None:
    clock = FakeClock(tick=0.001)
    small = with_capabilities(Capabilities(max_recipients=50, max_bytes=MIB))(
        "small", accepted("from-small"))
    large = with_capabilities(Capabilities(max_recipients=1000, max_bytes=MIB))(
        "large", accepted("from-large"))
    board = MemoryBoard(OriginalStrategy(), base_scores(["small", "large"]), clock=clock.seconds)
    dispatcher = Dispatcher([small, large], board, clock=clock)

    report = dispatcher.attempt(make_message(to=MANY))

    assert isinstance(report.verdict, Delivered) and report.verdict.provider == "large"
    assert (small.calls, large.calls) == (0, 1)
    assert [attempt.provider for attempt in report.tries] == ["large"]
    # a message both can carry still goes to the preferred one
    assert isinstance(dispatcher.attempt(make_message()).verdict, Delivered)
    assert small.calls == 1


def test_a_message_no_provider_can_carry_is_undeliverable_without_a_try() -> None:
    clock = FakeClock(tick=0.001)
    only = with_capabilities(Capabilities(max_recipients=10, max_bytes=MIB))(
        "only", accepted())
    board = MemoryBoard(OriginalStrategy(), base_scores(["only"]), clock=clock.seconds)

    report = Dispatcher([only], board, clock=clock).attempt(make_message(to=MANY))

    assert isinstance(report.verdict, Undeliverable)
    assert "only takes at most 10 recipients" in report.verdict.error
    assert report.tries == [] and only.calls == 0


def test_a_short_message_to_one_recipient_fits_without_being_built() -> None:
    carriage = Carriage(max_bytes=MIB, max_recipients=100, providers=[
        ("a", Capabilities(max_recipients=50, max_bytes=64 * 1024)),
        ("b", Capabilities(max_recipients=50, max_bytes=128 * 1024)),
    ])
    assert carriage.fits_alone(1000)
    assert not carriage.fits_alone(40 * 1024)  # it might not: the full check decides
    assert carriage.refusal(make_message(html="é" * 30 * 1024)) is None
