"""What a provider can carry, and whether it can carry a given message.

Each adapter declares its :class:`Capabilities` from its provider's documented limits. The
dispatcher tries only the providers that can carry a message, and the intake refuses a
message that no configured provider can carry, before storing it. Tags and metadata are
passed to the providers that take them and left out elsewhere: they never decide whether a
message can go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from micromailer.domain.message import Message

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Capabilities:
    """A provider's limits for one message."""

    #: Recipients of one message, ``to``, ``cc`` and ``bcc`` together.
    max_recipients: int
    #: The whole message, attachments encoded, as :meth:`Message.size_bytes` estimates it.
    max_bytes: int
    attachments: bool = True
    inline_images: bool = True
    #: File extensions (lower case, no dot) the provider refuses as attachments.
    blocked_extensions: frozenset[str] = frozenset()
    #: When set, the only extensions the provider accepts as attachments.
    allowed_extensions: frozenset[str] | None = None
    #: Whether ``cc`` and ``bcc`` can be given (else only ``to``).
    cc_bcc: bool = True
    custom_headers: bool = True
    tags: bool = True
    metadata: bool = True

    def refusal(self, message: Message) -> str | None:
        """Why this provider cannot carry ``message``, as a phrase; ``None`` when it can."""
        count = len(message.recipients)
        if count > self.max_recipients:
            return (
                f"takes at most {self.max_recipients:,} recipients and this message has "
                f"{count:,}"
            )
        if (message.cc or message.bcc) and not self.cc_bcc:
            return "cannot send cc or bcc recipients"
        size = message.size_bytes()
        if size > self.max_bytes:
            return (
                f"takes messages up to {_size(self.max_bytes)} and this one is about {_size(size)}"
            )
        if message.files and not self.attachments:
            return "cannot send attachments"
        if message.inline_images and not self.inline_images:
            return "cannot send inline images"
        for attachment in message.attachments:
            extension = attachment.extension
            if extension in self.blocked_extensions or (
                self.allowed_extensions is not None and extension not in self.allowed_extensions
            ):
                return f"refuses attachments such as {attachment.filename!r}"
        return None


def carriers(
    message: Message, providers: Iterable[tuple[str, Capabilities]]
) -> tuple[list[str], list[str]]:
    """The names of the ``providers`` that can carry ``message``, and for the others, one
    ``"<name> <why not>"`` phrase each."""
    able: list[str] = []
    reasons: list[str] = []
    for name, capabilities in providers:
        why = capabilities.refusal(message)
        if why is None:
            able.append(name)
        else:
            reasons.append(f"{name} {why}")
    return able, reasons


def nobody_can_carry(reasons: Sequence[str]) -> str:
    """The sentence that refuses a message no configured provider can carry."""
    return (
        "No configured provider can carry this message: " + "; ".join(reasons)
        + ". Send fewer recipients, a smaller message or other attachments."
    )


def _size(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.0f} KiB"


__all__ = ["MIB", "Capabilities", "carriers", "nobody_can_carry"]
